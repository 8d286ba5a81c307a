package dev.normkit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Tolerance checks per CONVENTIONS.md: |a - e| &lt;= atol + rtol * |e| elementwise, with atol scaled to the
 * expected tensor's largest magnitude.
 */
public final class Close {
  private Close() {}

  /** The largest |a - e| / (max|e| + tiny), for reporting. */
  public static double relativeError(float[] actual, float[] expected) {
    double scale = 0, worst = 0;
    for (float e : expected) if (Float.isFinite(e)) scale = Math.max(scale, Math.abs(e));
    for (int i = 0; i < expected.length; i++) {
      if (Float.isNaN(actual[i]) && Float.isNaN(expected[i])) continue;  // a NaN where one is due is no error
      worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    }
    return worst / Math.max(scale, 1e-30);
  }

  /**
   * Asserts |a - e| &lt;= scaledAtol * max|e| + rtol * |e| for every element; NaNs must match NaNs and infinities
   * must match exactly.
   */
  public static void assertClose(String what, float[] actual, float[] expected, double scaledAtol, double rtol) {
    assertWithin(what, actual, expected, scaledAtol * Math.max(maxAbs(expected), Float.MIN_NORMAL), rtol);
  }

  /** The largest finite |value|. */
  public static double maxAbs(float[] values) {
    double scale = 0;
    for (float v : values) if (Float.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    return scale;
  }

  /**
   * Asserts |a - e| &lt;= atol + rtol * |e| for every element with an absolute {@code atol}, for outputs whose own
   * magnitude is no measure of their rounding error (a gradient that cancels to near zero); NaNs must match NaNs
   * and infinities must match exactly.
   */
  public static void assertWithin(String what, float[] actual, float[] expected, double atol, double rtol) {
    if (actual.length != expected.length) fail(what + ": length " + actual.length + " != " + expected.length);
    double scale = maxAbs(expected);
    for (int i = 0; i < expected.length; i++) {
      float a = actual[i], e = expected[i];
      if (Float.isNaN(e) || Float.isInfinite(e)) {
        if (Float.compare(a, e) != 0 && !(Float.isNaN(a) && Float.isNaN(e))) {
          fail(what + ": element " + i + " is " + a + ", expected " + e);
        }
        continue;
      }
      double err = Math.abs((double) a - e);
      if (!(err <= atol + rtol * Math.abs(e))) {
        fail(String.format(
            "%s: element %d is %s, expected %s (|diff| %.3g > atol %.3g + rtol %.1g * |e|; tensor scale %.3g)",
            what, i, a, e, err, atol, rtol, scale));
      }
    }
  }
}
