package dev.normkit.backend.dnnl;

import dev.normkit.*;
import dev.normkit.backend.GroupNormKernel;

/** PLACEHOLDER until its helper lands. */
public final class DnnlGroupNorm implements GroupNormKernel {
  public static final DnnlGroupNorm INSTANCE = new DnnlGroupNorm();

  @Override
  public void forward(Tensor x, int groups, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    throw new UnsupportedOperationException("pending");
  }

  @Override
  public void backward(
      Tensor x,
      Tensor dy,
      int groups,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    throw new UnsupportedOperationException("pending");
  }
}
