package dev.normkit;

import java.util.Arrays;

/**
 * Argument checks shared by the public API. Every check throws {@link IllegalArgumentException} naming the offending
 * value, so that nothing invalid ever reaches native code.
 */
public final class Checks {
  private Checks() {}

  public static <T> T notNull(T value, String name) {
    if (value == null) throw new IllegalArgumentException(name + " must not be null");
    return value;
  }

  /** eps must be a positive finite number. */
  public static double eps(double eps) {
    if (!(eps > 0) || Double.isInfinite(eps)) {
      throw new IllegalArgumentException("eps must be positive and finite, got " + eps);
    }
    return eps;
  }

  /** momentum must lie in [0, 1]. */
  public static double momentum(double momentum) {
    if (!(momentum >= 0 && momentum <= 1)) {
      throw new IllegalArgumentException("momentum must be in [0, 1], got " + momentum);
    }
    return momentum;
  }

  public static void argument(boolean condition, String message) {
    if (!condition) throw new IllegalArgumentException(message);
  }

  /** The tensor is open and has exactly {@code expected} as its shape. */
  public static Tensor shape(Tensor t, Shape expected, String name) {
    notNull(t, name).checkOpen();
    if (!t.shape().equals(expected)) {
      throw new IllegalArgumentException(name + " must have shape " + expected + ", got " + t.shape());
    }
    return t;
  }

  /** The tensor is open, has {@code expected} as its shape, and is laid out as {@code layout}. */
  public static Tensor shapeAndLayout(Tensor t, Shape expected, Layout layout, String name) {
    shape(t, expected, name);
    if (t.layout() != layout && !Layout.layoutsCoincide(expected)) {
      throw new IllegalArgumentException(
          name + " must have layout " + layout + " (like the input), got " + t.layout());
    }
    return t;
  }

  /** An optional tensor: null is allowed, otherwise as {@link #shape}. */
  public static Tensor optionalShape(Tensor t, Shape expected, String name) {
    return t == null ? null : shape(t, expected, name);
  }

  /** A tensor of logical shape (N, C, *spatial) with 0 to 3 spatial dims. */
  public static Tensor activation(Tensor x, String name) {
    notNull(x, name).checkOpen();
    int rank = x.shape().rank();
    if (rank < 2 || rank > 5) {
      throw new IllegalArgumentException(
          name + " must have shape (N, C, *spatial) with 0 to 3 spatial dims, got rank " + rank
              + " shape " + x.shape());
    }
    return x;
  }

  /** weight and bias are both given or both absent. */
  public static void affinePair(Tensor weight, Tensor bias) {
    if ((weight == null) != (bias == null)) {
      throw new IllegalArgumentException(
          "weight and bias must be given together (both or neither), got "
              + (weight == null ? "bias only" : "weight only"));
    }
  }

  static String dims(long[] dims) {
    return Arrays.toString(dims).replace('[', '(').replace(']', ')');
  }
}
