package dev.normkit.backend;

import dev.normkit.Tensor;

/**
 * Group normalization: channels split into {@code groups} groups of C / G consecutive channels; statistics over each
 * (n, group) set of C / G * spatial values; per-channel gamma and beta. mean and var have shape (N, G).
 */
public interface GroupNormKernel {
  /** y = (x - mean[n,g]) / sqrt(var[n,g] + eps) * gamma[c] + beta[c]; writes y, mean, var (biased). */
  void forward(Tensor x, int groups, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var);

  /** dx as for batch norm over each (n, g) set; dgamma[c] = sum(dy * xhat), dbeta[c] = sum(dy) over N and spatial. */
  void backward(
      Tensor x,
      Tensor dy,
      int groups,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta);
}
