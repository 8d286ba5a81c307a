package dev.normkit.backend.kernels;

import dev.normkit.*;
import dev.normkit.backend.InstanceNormKernel;

/** PLACEHOLDER until its helper lands. */
public final class NativeInstanceNorm implements InstanceNormKernel {
  public static final NativeInstanceNorm INSTANCE = new NativeInstanceNorm();

  @Override
  public void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    throw new UnsupportedOperationException("pending");
  }

  @Override
  public void forwardInference(
      Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y) {
    throw new UnsupportedOperationException("pending");
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
    throw new UnsupportedOperationException("pending");
  }
}
