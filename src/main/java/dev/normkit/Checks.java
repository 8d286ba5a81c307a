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

  /**
   * A parameter or statistics tensor: as {@link #shape}, and in logical (channels-first) memory order, the order in
   * which every backend reads and writes it. A channels-last layer-norm weight of shape (C, H, W), say, is refused
   * rather than read in the wrong order.
   */
  public static Tensor parameter(Tensor t, Shape expected, String name) {
    shape(t, expected, name);
    if (!t.isMemoryInLogicalOrder()) {
      throw new IllegalArgumentException(
          name + " must be in logical memory order (CHANNELS_FIRST), got " + t.layout() + " for shape " + expected);
    }
    return t;
  }

  /** An optional parameter or statistics tensor: null is allowed, otherwise as {@link #parameter}. */
  public static Tensor optionalParameter(Tensor t, Shape expected, String name) {
    return t == null ? null : parameter(t, expected, name);
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

  /**
   * {@code output} is exactly {@code input}'s memory (an in-place call, which the normalizations and weight
   * standardization support: each output element is written after its inputs are read) or shares none of it. A
   * partial overlap would read values the op has already overwritten.
   */
  public static void inPlaceOrDisjoint(Tensor output, String outputName, Tensor input, String inputName) {
    if (output == null || input == null || sameMemory(output, input)) return;
    if (overlap(output, input)) {
      throw new IllegalArgumentException(outputName + " overlaps " + inputName
          + " without being the same memory (an op may write over its input whole, not over part of it)");
    }
  }

  /** {@code output} shares no memory with {@code input}: for ops that cannot run in place (convolution). */
  public static void disjoint(Tensor output, String outputName, Tensor input, String inputName) {
    if (output != null && input != null && overlap(output, input)) {
      throw new IllegalArgumentException(outputName + " shares memory with " + inputName
          + "; this op cannot write its output over an input");
    }
  }

  /**
   * No output of a call shares memory with another of its tensors: {@code t0 .. t7} are the call's outputs (the first
   * {@code outputs} of them), then its inputs, named in that order by the comma-separated {@code names}; null entries
   * are absent arguments (and pad the list). Inputs may share memory with one another. The first output's pairs with
   * the inputs at the positions set in {@code inPlaceMask} are skipped: the op may run in place there, which
   * {@link #inPlaceOrDisjoint} checks. Allocates nothing unless it throws (it runs on every call).
   */
  public static void apart(String names, int outputs, int inPlaceMask,
      Tensor t0, Tensor t1, Tensor t2, Tensor t3, Tensor t4, Tensor t5, Tensor t6, Tensor t7) {
    for (int i = 0; i < outputs; i++) {
      Tensor out = nth(i, t0, t1, t2, t3, t4, t5, t6, t7);
      if (out == null) continue;
      for (int j = i + 1; j < 8; j++) {
        if (i == 0 && (inPlaceMask & (1 << j)) != 0) continue;
        Tensor other = nth(j, t0, t1, t2, t3, t4, t5, t6, t7);
        if (other != null && overlap(out, other)) {
          String[] n = names.split(",");
          throw new IllegalArgumentException(n[i] + " shares memory with " + n[j]
              + "; an output may not overlap another argument of the call");
        }
      }
    }
  }

  private static Tensor nth(int i, Tensor t0, Tensor t1, Tensor t2, Tensor t3, Tensor t4, Tensor t5, Tensor t6,
      Tensor t7) {
    switch (i) {
      case 0: return t0;
      case 1: return t1;
      case 2: return t2;
      case 3: return t3;
      case 4: return t4;
      case 5: return t5;
      case 6: return t6;
      default: return t7;
    }
  }

  private static boolean sameMemory(Tensor a, Tensor b) {
    return a.address() == b.address() && a.elementCount() == b.elementCount() && a.layout() == b.layout();
  }

  private static boolean overlap(Tensor a, Tensor b) {
    if (a.elementCount() == 0 || b.elementCount() == 0) return false;
    long aEnd = a.address() + a.elementCount() * Float.BYTES, bEnd = b.address() + b.elementCount() * Float.BYTES;
    return a.address() < bEnd && b.address() < aEnd;
  }

  static String dims(long[] dims) {
    return Arrays.toString(dims).replace('[', '(').replace(']', ')');
  }
}
