package dev.normkit.backend.dnnl;

import dev.normkit.*;
import dev.normkit.backend.LayerNormKernel;

/** PLACEHOLDER until its helper lands. */
public final class DnnlLayerNorm implements LayerNormKernel {
  public static final DnnlLayerNorm INSTANCE = new DnnlLayerNorm();

  @Override
  public void forward(
      Tensor x, int normalizedDims, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    throw new UnsupportedOperationException("pending");
  }

  @Override
  public void backward(
      Tensor x,
      Tensor dy,
      int normalizedDims,
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
