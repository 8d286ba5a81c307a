package dev.normkit.backend.reference;

import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.InstanceNormKernel;

/**
 * Instance norm in double precision: one statistics set per (n, c) over the spatial dims; with running statistics
 * (eval mode) one set per channel.
 */
public final class ReferenceInstanceNorm implements InstanceNormKernel {
  public static final ReferenceInstanceNorm INSTANCE = new ReferenceInstanceNorm();

  private ReferenceInstanceNorm() {}

  private static NormalizationSets sets(Shape s, boolean runningStats) {
    int c = Math.toIntExact(s.channels());
    if (runningStats) return NormalizationSets.perChannel(s.batch(), c, s.spatialSize(), c, (n, ch) -> ch);
    int sets = Math.toIntExact(s.batch() * c);
    return NormalizationSets.perChannel(s.batch(), c, s.spatialSize(), sets, (n, ch) -> n * c + ch);
  }

  /**
   * Training forward on logical arrays, all in double (for gradient checks): y of x with shape (N, C, *spatial);
   * gamma and beta null for no affine.
   */
  public static double[] forwardTraining(double[] x, Shape shape, double[] gamma, double[] beta, double eps) {
    NormalizationSets sets = sets(shape, false);
    double[] mean = sets.mean(x);
    return sets.normalize(x, mean, NormalizationSets.rstd(sets.variance(x, mean), eps), gamma, beta);
  }

  /**
   * Training backward on logical arrays, all in double, with the statistics recomputed from x: {dx, dgamma, dbeta}
   * (dgamma, dbeta per channel).
   */
  public static double[][] backwardTraining(double[] x, double[] dy, Shape shape, double[] gamma, double eps) {
    NormalizationSets sets = sets(shape, false);
    double[] mean = sets.mean(x);
    double[] rstd = NormalizationSets.rstd(sets.variance(x, mean), eps);
    int c = Math.toIntExact(shape.channels());
    NormalizationSets.Gradients g = sets.backward(x, dy, mean, rstd, gamma, c, false);
    return new double[][] {g.dx, g.dgamma, g.dbeta};
  }

  @Override
  public void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    sets(x.shape(), false).forwardTraining(x, gamma, beta, eps, y, mean, var);
  }

  @Override
  public void forwardInference(
      Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y) {
    sets(x.shape(), true).forwardWithStatistics(x, gamma, beta, runningMean, runningVar, eps, y);
  }

  @Override
  public void backward(
      Tensor x,
      Tensor dy,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      boolean useGlobalStats,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    int c = Math.toIntExact(x.shape().channels());
    sets(x.shape(), useGlobalStats).backward(x, dy, gamma, mean, var, eps, c, useGlobalStats, dx, dgamma, dbeta);
  }
}
