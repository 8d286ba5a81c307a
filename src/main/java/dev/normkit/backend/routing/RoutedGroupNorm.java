package dev.normkit.backend.routing;

import dev.normkit.Tensor;
import dev.normkit.backend.GroupNormKernel;
import dev.normkit.backend.kernels.NativeGroupNorm;

/** Group norm for {@link dev.normkit.Backend#NATIVE}: PENDING measurement. */
public final class RoutedGroupNorm implements GroupNormKernel {
  public static final RoutedGroupNorm INSTANCE = new RoutedGroupNorm();

  private RoutedGroupNorm() {}

  @Override
  public void forward(Tensor x, int groups, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    NativeGroupNorm.INSTANCE.forward(x, groups, gamma, beta, eps, y, mean, var);
  }

  @Override
  public void backward(Tensor x, Tensor dy, int groups, Tensor gamma, Tensor mean, Tensor var, double eps, Tensor dx,
      Tensor dgamma, Tensor dbeta) {
    NativeGroupNorm.INSTANCE.backward(x, dy, groups, gamma, mean, var, eps, dx, dgamma, dbeta);
  }
}
