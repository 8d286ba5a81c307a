package dev.normkit.backend.reference;

import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.BatchNormKernel;

/** Batch norm in double precision: one statistics set per channel, over N and the spatial dims. */
public final class ReferenceBatchNorm implements BatchNormKernel {
  public static final ReferenceBatchNorm INSTANCE = new ReferenceBatchNorm();

  private ReferenceBatchNorm() {}

  static NormalizationSets sets(Shape s) {
    int c = Math.toIntExact(s.channels());
    return NormalizationSets.perChannel(s.batch(), c, s.spatialSize(), c, (n, ch) -> ch);
  }

  @Override
  public void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    sets(x.shape()).forwardTraining(x, gamma, beta, eps, y, mean, var);
  }

  @Override
  public void forwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps, Tensor y) {
    sets(x.shape()).forwardWithStatistics(x, gamma, beta, mean, var, eps, y);
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
    sets(x.shape()).backward(x, dy, gamma, mean, var, eps, c, useGlobalStats, dx, dgamma, dbeta);
  }
}
