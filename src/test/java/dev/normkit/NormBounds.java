package dev.normkit;

/**
 * Per-element float32 error bounds for a normalization's outputs, from forward error analysis: a value computed in
 * float32 from terms whose magnitudes add up to t is off by at most about k * u * t, with u = 2^-24 the unit
 * roundoff and k a small count of roundings (for sums, growing slowly with the number of terms). Tests assert
 * |native - reference| &lt;= k * u * t element by element, with k measured and stated per output; the reference,
 * computed in double, is exact by comparison.
 *
 * <p>Scaling by the terms rather than by the result matters where float32 cancels: a set of two values has dx = 0
 * exactly, and y = (x - mean) * rstd loses |mean| * u * rstd when |mean| is large against the set's spread; both are
 * properties of float32, not of a kernel. The magnitudes, for set s of n values, element i of s with parameter p,
 * g = dy * gamma, xhat = (x - mean) * rstd:
 *
 * <pre>
 * a_s      = mean over s of |x|                  what the mean's rounding scales with
 * c_s      = max(1, mean_s(x^2) / (var_s + eps))  the variance's condition: its rounding relative to itself
 * K_i      = rstd_s * (|x_i| + a_s) + |xhat_i| * c_s   xhat's error sources: x - mean, and rstd through var
 *            (with given statistics, nothing is computed: a_s = |mean_s| and c_s = 1)
 *
 * mean_s   : a_s
 * var_s    : mean over s of x^2                   (covers E[x^2] - E[x]^2 as well as two-pass)
 * y_i      : |gamma_p| * K_i + |beta_p|
 * dx_i     : c_s * rstd_s * (|g_i| + mean_s |g| + K_i * mean_s(|g| K))   (statistics of x)
 *            rstd_s * |g_i|                                              (given statistics)
 * dgamma_p : sum over p's elements of |dy| * K
 * dbeta_p  : sum over p's elements of |dy|
 * </pre>
 */
final class NormBounds {
  /** float32's unit roundoff, 2^-24. */
  static final double U = 0x1p-24;

  private final int[] set;
  private final int[] param;
  private final int sets;
  private final int params;
  private final double[] x;
  private final double[] dy;
  private final double[] gamma;
  private final double[] beta;
  private final double[] mean;
  private final double[] rstd;
  private final double[] condition;
  private final double[] kappa;

  private NormBounds(
      int[] set, int[] param, int params, Tensor x, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var,
      double eps, boolean computedStatistics) {
    this.set = set;
    this.param = param;
    this.params = params;
    this.x = read(x);
    this.dy = read(dy);
    this.gamma = read(gamma);
    this.beta = read(beta);
    this.mean = read(mean);
    this.sets = this.mean.length;
    double[] v = read(var);
    this.rstd = new double[sets];
    for (int s = 0; s < sets; s++) rstd[s] = 1 / Math.sqrt(v[s] + eps);
    double[] meanAbs = perSetMean(Math::abs, this.x);
    double[] meanSquare = perSetMean(t -> t * t, this.x);
    this.condition = new double[sets];
    for (int s = 0; s < sets; s++) {
      condition[s] = computedStatistics ? Math.max(1, meanSquare[s] / (v[s] + eps)) : 1;
      if (!computedStatistics) meanAbs[s] = Math.abs(this.mean[s]);
    }
    this.kappa = new double[this.x.length];
    for (int i = 0; i < kappa.length; i++) {
      int s = set[i];
      double xhat = Math.abs(this.x[i] - this.mean[s]) * rstd[s];
      kappa[i] = rstd[s] * (Math.abs(this.x[i]) + meanAbs[s]) + xhat * condition[s];
    }
  }

  /**
   * Bounds for batch norm: sets and parameters per channel. {@code mean}/{@code var} are the statistics used: the
   * batch's ({@code computedStatistics}: the kernel computed them from x, with their rounding) or given running
   * ones. dy, gamma and beta may be null where an output does not need them.
   */
  static NormBounds batchNorm(
      Tensor x, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps,
      boolean computedStatistics) {
    return perChannel(x.shape(), (n, c) -> c, x, dy, gamma, beta, mean, var, eps, computedStatistics);
  }

  /** Bounds for group norm: sets per (n, group), parameters per channel. */
  static NormBounds groupNorm(
      Tensor x, int groups, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps) {
    long perGroup = x.shape().channels() / groups;
    return perChannel(
        x.shape(), (n, c) -> (int) (n * groups + c / perGroup), x, dy, gamma, beta, mean, var, eps, true);
  }

  /** Bounds for layer norm over the trailing {@code normalizedDims} dims: sets per row, parameters per column. */
  static NormBounds layerNorm(
      Tensor x, int normalizedDims, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps) {
    Shape s = x.shape();
    int d = (int) s.product(s.rank() - normalizedDims, s.rank());
    int total = (int) s.elementCount();
    int[] set = new int[total], param = new int[total];
    for (int i = 0; i < total; i++) {
      set[i] = i / d;
      param[i] = i % d;
    }
    return new NormBounds(set, param, d, x, dy, gamma, beta, mean, var, eps, true);
  }

  @FunctionalInterface
  interface ChannelSet {
    int of(int n, int c);
  }

  private static NormBounds perChannel(
      Shape s, ChannelSet setOf, Tensor x, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var,
      double eps, boolean computedStatistics) {
    int total = (int) s.elementCount(), c = (int) s.channels(), spatial = (int) s.spatialSize();
    int[] set = new int[total], param = new int[total];
    for (int i = 0; i < total; i++) {
      int n = i / (c * spatial), ch = i / spatial % c;
      set[i] = setOf.of(n, ch);
      param[i] = ch;
    }
    return new NormBounds(set, param, c, x, dy, gamma, beta, mean, var, eps, computedStatistics);
  }

  /** Per set: mean |x|. */
  double[] mean() {
    return perSetMean(Math::abs, x);
  }

  /** Per set: mean x^2. */
  double[] variance() {
    return perSetMean(v -> v * v, x);
  }

  /** Per element: |gamma| * kappa + |beta| (kappa alone without affine). */
  double[] y() {
    double[] t = new double[x.length];
    for (int i = 0; i < t.length; i++) {
      t[i] = gamma == null ? kappa[i] : Math.abs(gamma[param[i]]) * kappa[i] + Math.abs(beta[param[i]]);
    }
    return t;
  }

  /** Per element, training-mode backward (statistics depend on x). */
  double[] dxTraining() {
    double[] g = absG();
    double[] meanG = perSetMean(v -> v, g);
    double[] gk = new double[g.length];
    for (int i = 0; i < g.length; i++) gk[i] = g[i] * kappa[i];
    double[] meanGK = perSetMean(v -> v, gk);
    double[] t = new double[g.length];
    for (int i = 0; i < t.length; i++) {
      int s = set[i];
      t[i] = condition[s] * rstd[s] * (g[i] + meanG[s] + kappa[i] * meanGK[s]);
    }
    return t;
  }

  /** Per element, backward with constant statistics: rstd * |g|. */
  double[] dxConstantStatistics() {
    double[] g = absG();
    for (int i = 0; i < g.length; i++) g[i] *= rstd[set[i]];
    return g;
  }

  /** Per parameter: sum |dy| * kappa. */
  double[] dgamma() {
    double[] t = new double[params];
    for (int i = 0; i < x.length; i++) t[param[i]] += Math.abs(dy[i]) * kappa[i];
    return t;
  }

  /** Per parameter: sum |dy|. */
  double[] dbeta() {
    double[] t = new double[params];
    for (int i = 0; i < x.length; i++) t[param[i]] += Math.abs(dy[i]);
    return t;
  }

  private double[] absG() {
    double[] g = new double[x.length];
    for (int i = 0; i < g.length; i++) g[i] = Math.abs(dy[i] * (gamma == null ? 1 : gamma[param[i]]));
    return g;
  }

  private double[] perSetMean(java.util.function.DoubleUnaryOperator f, double[] values) {
    double[] sum = new double[sets];
    long[] count = new long[sets];
    for (int i = 0; i < values.length; i++) {
      sum[set[i]] += f.applyAsDouble(values[i]);
      count[set[i]]++;
    }
    for (int s = 0; s < sets; s++) sum[s] /= count[s];
    return sum;
  }

  private static double[] read(Tensor t) {
    if (t == null) return null;
    float[] f = t.toArray();
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) d[i] = f[i];
    return d;
  }
}
