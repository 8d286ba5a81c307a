package dev.normkit;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.function.ToDoubleFunction;

/** Central finite differences in double, to check the reference's analytic gradients. */
final class FiniteDifferences {
  /** The step: small enough for O(h^2) truncation ~ 1e-12, large enough for cancellation ~ 1e-16 / h ~ 1e-10. */
  static final double STEP = 1e-6;

  private FiniteDifferences() {}

  /** dL/dv_i ~ (L(v + h e_i) - L(v - h e_i)) / 2h for every i; v is restored afterwards. */
  static double[] gradient(double[] v, ToDoubleFunction<double[]> loss) {
    double[] g = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      double saved = v[i];
      v[i] = saved + STEP;
      double plus = loss.applyAsDouble(v);
      v[i] = saved - STEP;
      double minus = loss.applyAsDouble(v);
      v[i] = saved;
      g[i] = (plus - minus) / (2 * STEP);
    }
    return g;
  }

  /** |analytic - numeric| &lt;= tolerance * max(1, max|numeric|) elementwise. */
  static void assertClose(String what, double[] analytic, double[] numeric, double tolerance) {
    double scale = 1;
    for (double n : numeric) scale = Math.max(scale, Math.abs(n));
    for (int i = 0; i < numeric.length; i++) {
      if (!(Math.abs(analytic[i] - numeric[i]) <= tolerance * scale)) {
        fail(String.format("%s: element %d analytic %.10g, finite difference %.10g", what, i, analytic[i], numeric[i]));
      }
    }
  }

  /** The values as doubles. */
  static double[] doubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) d[i] = f[i];
    return d;
  }

  /** sum(a * b): the loss L = sum(output * upstream gradient) whose gradient a backward pass computes. */
  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  }
}
