package dev.normkit.backend.routing;

import dev.normkit.Tensor;
import dev.normkit.backend.LayerNormKernel;
import dev.normkit.backend.kernels.NativeLayerNorm;

/** Layer norm for {@link dev.normkit.Backend#NATIVE}: PENDING measurement. */
public final class RoutedLayerNorm implements LayerNormKernel {
  public static final RoutedLayerNorm INSTANCE = new RoutedLayerNorm();

  private RoutedLayerNorm() {}

  @Override
  public void forward(
      Tensor x, int normalizedDims, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    NativeLayerNorm.INSTANCE.forward(x, normalizedDims, gamma, beta, eps, y, mean, var);
  }

  @Override
  public void backward(Tensor x, Tensor dy, int normalizedDims, Tensor gamma, Tensor mean, Tensor var, double eps,
      Tensor dx, Tensor dgamma, Tensor dbeta) {
    NativeLayerNorm.INSTANCE.backward(x, dy, normalizedDims, gamma, mean, var, eps, dx, dgamma, dbeta);
  }
}
