package dev.normkit.backend;

import dev.normkit.Tensor;
import dev.normkit.WsVariant;

/**
 * Weight standardization of a weight w of shape (O, ...) per output filter o over its K = prod(dims 1..) values
 * (CONVENTIONS.md). Each filter's K values are contiguous in memory in both layouts, so kernels may treat w as
 * (O, K) in memory order. mean and rstd have shape (O), with rstd the variant's normalizing factor:
 * SEED 1 / (std_unbiased + eps); BATCH_NORM_STYLE and SCALED 1 / sqrt(var_biased + eps).
 */
public interface WeightStandardizationKernel {
  /**
   * wHat = (w - mean[o]) * rstd[o] * f[o] with f = 1 for SEED and BATCH_NORM_STYLE, and f[o] = gain[o] * gamma *
   * K^-0.5 for SCALED (gain null for the other variants). Writes wHat, mean, rstd.
   */
  void forward(
      Tensor w, WsVariant variant, double eps, double gamma, Tensor gain, Tensor wHat, Tensor mean, Tensor rstd);

  /**
   * The gradient with respect to the raw weight w from dwHat, through mean and std; for SCALED also dgain[o] (null
   * when not wanted).
   */
  void backward(
      Tensor w,
      Tensor dwHat,
      WsVariant variant,
      double eps,
      double gamma,
      Tensor gain,
      Tensor mean,
      Tensor rstd,
      Tensor dw,
      Tensor dgain);
}
