package dev.normkit.backend.reference;

import static dev.normkit.backend.reference.LogicalArrays.read;
import static dev.normkit.backend.reference.LogicalArrays.readOptional;
import static dev.normkit.backend.reference.LogicalArrays.write;

import dev.normkit.Tensor;

/**
 * The double-precision core of every reference normalization. Each element i of x (logical C order) belongs to a
 * statistics set {@code set[i]} and uses affine parameter {@code param[i]}; batch, layer, group and instance norm
 * differ only in those two maps. Statistics are two-pass (mean first, then the mean of squared deviations), never
 * E[x^2] - E[x]^2.
 */
final class NormalizationSets {
  final int[] set;
  final int[] param;
  final int sets;
  final long[] count;

  NormalizationSets(int[] set, int[] param, int sets) {
    this.set = set;
    this.param = param;
    this.sets = sets;
    this.count = new long[sets];
    for (int s : set) count[s]++;
  }

  /** Forward with this batch's statistics: writes y and the sets' mean and biased variance. */
  void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor meanOut, Tensor varOut) {
    double[] xs = read(x);
    double[] mean = mean(xs);
    double[] var = variance(xs, mean);
    write(y, normalize(xs, mean, rstd(var, eps), readOptional(gamma), readOptional(beta)));
    write(meanOut, mean);
    write(varOut, var);
  }

  /** Forward with given statistics (one value per set). */
  void forwardWithStatistics(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps, Tensor y) {
    double[] rstd = rstd(read(var), eps);
    write(y, normalize(read(x), read(mean), rstd, readOptional(gamma), readOptional(beta)));
  }

  /** Backward from tensors; see {@link #backward(double[], double[], double[], double[], double[], int, boolean)}. */
  void backward(
      Tensor x,
      Tensor dy,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      int params,
      boolean constantStats,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    Gradients g =
        backward(read(x), read(dy), read(mean), rstd(read(var), eps), readOptional(gamma), params, constantStats);
    write(dx, g.dx);
    write(dgamma, g.dgamma);
    write(dbeta, g.dbeta);
  }

  /** mean[s] = sum(x) / n_s. */
  double[] mean(double[] x) {
    double[] sum = new double[sets];
    for (int i = 0; i < x.length; i++) sum[set[i]] += x[i];
    for (int s = 0; s < sets; s++) sum[s] /= count[s];
    return sum;
  }

  /** var[s] = sum((x - mean)^2) / n_s, the biased variance. */
  double[] variance(double[] x, double[] mean) {
    double[] sq = new double[sets];
    for (int i = 0; i < x.length; i++) {
      double d = x[i] - mean[set[i]];
      sq[set[i]] += d * d;
    }
    for (int s = 0; s < sets; s++) sq[s] /= count[s];
    return sq;
  }

  static double[] rstd(double[] var, double eps) {
    double[] r = new double[var.length];
    for (int s = 0; s < var.length; s++) r[s] = 1.0 / Math.sqrt(var[s] + eps);
    return r;
  }

  /** y = (x - mean) * rstd * gamma + beta, gamma/beta null for no affine. */
  double[] normalize(double[] x, double[] mean, double[] rstd, double[] gamma, double[] beta) {
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      int s = set[i];
      double v = (x[i] - mean[s]) * rstd[s];
      if (gamma != null) v = v * gamma[param[i]] + beta[param[i]];
      y[i] = v;
    }
    return y;
  }

  /** Gradients of one backward pass; dgamma/dbeta are per parameter. */
  static final class Gradients {
    final double[] dx;
    final double[] dgamma;
    final double[] dbeta;

    Gradients(double[] dx, double[] dgamma, double[] dbeta) {
      this.dx = dx;
      this.dgamma = dgamma;
      this.dbeta = dbeta;
    }
  }

  /**
   * Backward. Training (statistics depend on x): with g = dy * gamma and xhat = (x - mean) * rstd,
   * dx = rstd / n * (n * g - sum(g) - xhat * sum(g * xhat)) per set. With constant statistics: dx = g * rstd.
   * dgamma[p] = sum(dy * xhat), dbeta[p] = sum(dy) over the elements using parameter p.
   */
  Gradients backward(
      double[] x, double[] dy, double[] mean, double[] rstd, double[] gamma, int params, boolean constantStats) {
    int n = x.length;
    double[] xhat = new double[n];
    double[] g = new double[n];
    double[] dgamma = new double[params];
    double[] dbeta = new double[params];
    for (int i = 0; i < n; i++) {
      int s = set[i];
      xhat[i] = (x[i] - mean[s]) * rstd[s];
      g[i] = gamma == null ? dy[i] : dy[i] * gamma[param[i]];
      dgamma[param[i]] += dy[i] * xhat[i];
      dbeta[param[i]] += dy[i];
    }
    double[] dx = new double[n];
    if (constantStats) {
      for (int i = 0; i < n; i++) dx[i] = g[i] * rstd[set[i]];
      return new Gradients(dx, dgamma, dbeta);
    }
    double[] sumG = new double[sets];
    double[] sumGX = new double[sets];
    for (int i = 0; i < n; i++) {
      sumG[set[i]] += g[i];
      sumGX[set[i]] += g[i] * xhat[i];
    }
    for (int i = 0; i < n; i++) {
      int s = set[i];
      double cnt = count[s];
      dx[i] = rstd[s] / cnt * (cnt * g[i] - sumG[s] - xhat[i] * sumGX[s]);
    }
    return new Gradients(dx, dgamma, dbeta);
  }

  /**
   * Sets over an (N, C, S) logical view: element (n, c, s) belongs to set {@code setOf.applyAsInt(n, c)} and uses
   * parameter c. Used by batch, instance and group norm.
   */
  static NormalizationSets perChannel(long n, long c, long spatial, int sets, ChannelSet setOf) {
    int total = Math.toIntExact(n * c * spatial);
    int[] set = new int[total];
    int[] param = new int[total];
    int i = 0;
    for (int in = 0; in < n; in++) {
      for (int ic = 0; ic < c; ic++) {
        int s = setOf.set(in, ic);
        for (long is = 0; is < spatial; is++, i++) {
          set[i] = s;
          param[i] = ic;
        }
      }
    }
    return new NormalizationSets(set, param, sets);
  }

  @FunctionalInterface
  interface ChannelSet {
    int set(int n, int c);
  }
}
