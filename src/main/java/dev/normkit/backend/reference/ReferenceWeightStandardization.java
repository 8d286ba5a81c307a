package dev.normkit.backend.reference;

import dev.normkit.*;
import dev.normkit.backend.WeightStandardizationKernel;

/** PLACEHOLDER until its helper lands. */
public final class ReferenceWeightStandardization implements WeightStandardizationKernel {
  public static final ReferenceWeightStandardization INSTANCE = new ReferenceWeightStandardization();

  @Override
  public void forward(
      Tensor w, WsVariant variant, double eps, double gamma, Tensor gain, Tensor wHat, Tensor mean, Tensor rstd) {
    throw new UnsupportedOperationException("pending");
  }

  @Override
  public void backward(
      Tensor w,
      Tensor dwHat,
      WsVariant variant,
      double eps,
      double gamma,
      Tensor gain,
      Tensor mean,
      Tensor rstd,
      Tensor dw,
      Tensor dgain) {
    throw new UnsupportedOperationException("pending");
  }
}
