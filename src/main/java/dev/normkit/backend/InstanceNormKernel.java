package dev.normkit.backend;

import dev.normkit.Tensor;

/**
 * Instance normalization: statistics over the spatial dims per (n, c). Batch statistics mean and var have shape
 * (N, C); running statistics have shape (C).
 */
public interface InstanceNormKernel {
  /** y = (x - mean[n,c]) / sqrt(var[n,c] + eps) * gamma[c] + beta[c]; writes y, mean, var (biased). */
  void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var);

  /** y = (x - runningMean[c]) / sqrt(runningVar[c] + eps) * gamma[c] + beta[c]. */
  void forwardInference(
      Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y);

  /**
   * Backward. Without {@code useGlobalStats}, mean and var are the (N, C) batch statistics; with it they are the
   * (C) running statistics, treated as constants. dgamma[c], dbeta[c] sum over N and spatial; null when not wanted.
   */
  void backward(
      Tensor x,
      Tensor dy,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      boolean useGlobalStats,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta);
}
