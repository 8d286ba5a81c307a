package dev.normkit;

import java.util.Arrays;

/**
 * An immutable logical tensor shape. Activations have shape (N, C, *spatial) with 0 to 3 spatial dims; parameter
 * vectors have rank 1; a layer norm's parameters have the normalized shape. Dimensions may be zero (an empty
 * batch); the element count and the byte size must fit in a {@code long}.
 */
public final class Shape {
  /** The largest rank normkit handles: (N, C, D, H, W). */
  public static final int MAX_RANK = 5;

  private final long[] dims;
  private final long elementCount;

  private Shape(long[] dims) {
    if (dims.length < 1 || dims.length > MAX_RANK) {
      throw new IllegalArgumentException(
          "rank must be between 1 and " + MAX_RANK + ", got " + dims.length + " " + Checks.dims(dims));
    }
    long count = 1;
    for (int i = 0; i < dims.length; i++) {
      if (dims[i] < 0) {
        throw new IllegalArgumentException("dimension " + i + " is negative in " + Checks.dims(dims));
      }
      try {
        count = Math.multiplyExact(count, dims[i]);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("element count of shape " + Checks.dims(dims) + " overflows a long");
      }
    }
    if (count > Long.MAX_VALUE / Float.BYTES) {
      throw new IllegalArgumentException("byte size of shape " + Checks.dims(dims) + " overflows a long");
    }
    this.dims = dims;
    this.elementCount = count;
  }

  /**
   * Recently used 1-D and 2-D shapes, direct-mapped: the per-call shapes of parameters and statistics ((C), (N, G),
   * (N, C), (rows)) come from here, so that checking them allocates nothing once a shape has been seen. Shapes are
   * immutable, so racing threads at worst replace an entry with an equal shape.
   */
  private static final Shape[] RECENT = new Shape[256];

  /** The 1-D shape (n), e.g. of a per-channel parameter. */
  public static Shape vector(long n) {
    return recent(n, -1);
  }

  /** The 2-D shape (rows, cols), e.g. of per-(n, group) statistics. */
  public static Shape matrix(long rows, long cols) {
    return cols < 0 ? of(rows, cols) : recent(rows, cols);
  }

  /** (a) when b is -1, else (a, b), from RECENT when it holds it. */
  private static Shape recent(long a, long b) {
    int slot = (int) ((a * 31 + b) & (RECENT.length - 1));
    Shape s = RECENT[slot];
    boolean hit = s != null && s.dims.length == (b < 0 ? 1 : 2) && s.dims[0] == a && (b < 0 || s.dims[1] == b);
    if (!hit) {
      s = new Shape(b < 0 ? new long[] {a} : new long[] {a, b});
      RECENT[slot] = s;
    }
    return s;
  }

  public static Shape of(long... dims) {
    Checks.notNull(dims, "dims");
    return new Shape(dims.clone());
  }

  public static Shape of(int... dims) {
    Checks.notNull(dims, "dims");
    return new Shape(Arrays.stream(dims).asLongStream().toArray());
  }

  /** Parses "2,3,4" or "(2, 3, 4)". */
  public static Shape parse(String text) {
    Checks.notNull(text, "shape");
    String body = text.trim().replaceAll("^[\\(\\[]|[\\)\\]]$", "").trim();
    if (body.isEmpty()) throw new IllegalArgumentException("empty shape '" + text + "'");
    String[] parts = body.split("\\s*,\\s*");
    long[] dims = new long[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        dims[i] = Long.parseLong(parts[i].trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad dimension '" + parts[i] + "' in shape '" + text + "'");
      }
    }
    return new Shape(dims);
  }

  public int rank() {
    return dims.length;
  }

  public long dim(int i) {
    return dims[i];
  }

  public long[] dims() {
    return dims.clone();
  }

  public long elementCount() {
    return elementCount;
  }

  /** N, the first dimension. */
  public long batch() {
    return dims[0];
  }

  /** C, the second dimension (1 for a rank-1 shape). */
  public long channels() {
    return dims.length > 1 ? dims[1] : 1;
  }

  /** The number of spatial positions, the product of dims 2..rank-1 (1 when there are none). */
  public long spatialSize() {
    long s = 1;
    for (int i = 2; i < dims.length; i++) s *= dims[i];
    return s;
  }

  /** The product of dims [from, to). */
  public long product(int from, int to) {
    long p = 1;
    for (int i = from; i < to; i++) p *= dims[i];
    return p;
  }

  /** The trailing {@code count} dims as a shape. */
  public Shape trailing(int count) {
    return new Shape(Arrays.copyOfRange(dims, dims.length - count, dims.length));
  }

  /** True when {@code suffix} equals this shape's trailing dims. */
  public boolean endsWith(Shape suffix) {
    int offset = rank() - suffix.rank();
    return offset >= 0 && Arrays.equals(dims, offset, rank(), suffix.dims, 0, suffix.rank());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Shape && Arrays.equals(dims, ((Shape) o).dims);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(dims);
  }

  /** "(32, 64, 14, 14)"; a rank-1 shape prints as "(64)". */
  @Override
  public String toString() {
    return Checks.dims(dims);
  }
}
