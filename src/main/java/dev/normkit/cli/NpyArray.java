package dev.normkit.cli;

import dev.normkit.Shape;

/**
 * A float32 array as stored in a {@code .npy} file: its shape (rank &gt;= 1, any rank) and its values in C order.
 * {@link #shape()} is a copy; {@link #data()} is the array itself (not copied).
 */
public final class NpyArray {
  private final long[] shape;
  private final float[] data;

  /** Throws {@link IllegalArgumentException} unless {@code data} holds exactly the elements of {@code shape}. */
  public NpyArray(long[] shape, float[] data) {
    if (shape == null || data == null) throw new IllegalArgumentException("shape and data must not be null");
    if (shape.length == 0) throw new IllegalArgumentException("a .npy array here has rank >= 1, got shape ()");
    long count = Npy.elementCount(shape);
    if (count != data.length) {
      throw new IllegalArgumentException(
          "shape " + Npy.pythonTuple(shape) + " has " + count + " elements, data has " + data.length);
    }
    this.shape = shape.clone();
    this.data = data;
  }

  public long[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  public float[] data() {
    return data;
  }

  /** The shape as a normkit {@link Shape}; throws {@link IllegalArgumentException} for ranks normkit lacks. */
  public Shape toShape() {
    return Shape.of(shape);
  }

  @Override
  public String toString() {
    return "NpyArray" + Npy.pythonTuple(shape);
  }
}
