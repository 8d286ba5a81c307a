package dev.normkit.backend.routing;

import dev.normkit.Tensor;
import dev.normkit.backend.BatchNormKernel;
import dev.normkit.backend.kernels.NativeBatchNorm;

/** Batch norm for {@link dev.normkit.Backend#NATIVE}: PENDING measurement. */
public final class RoutedBatchNorm implements BatchNormKernel {
  public static final RoutedBatchNorm INSTANCE = new RoutedBatchNorm();

  private RoutedBatchNorm() {}

  @Override
  public void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    NativeBatchNorm.INSTANCE.forwardTraining(x, gamma, beta, eps, y, mean, var);
  }

  @Override
  public void forwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps, Tensor y) {
    NativeBatchNorm.INSTANCE.forwardInference(x, gamma, beta, mean, var, eps, y);
  }

  @Override
  public void backward(Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor var, double eps,
      boolean useGlobalStats, Tensor dx, Tensor dgamma, Tensor dbeta) {
    NativeBatchNorm.INSTANCE.backward(x, dy, gamma, mean, var, eps, useGlobalStats, dx, dgamma, dbeta);
  }
}
