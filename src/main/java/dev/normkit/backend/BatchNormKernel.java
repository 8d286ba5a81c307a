package dev.normkit.backend;

import dev.normkit.Tensor;

/**
 * Batch normalization over (N, *spatial) per channel, as in PyTorch (see CONVENTIONS.md).
 *
 * <p>Arguments are validated by the public API before a kernel sees them: x, y, dy, dx share shape and layout;
 * per-channel tensors have shape (C); gamma and beta are both present or both null; outputs never alias inputs
 * (except where stated).
 */
public interface BatchNormKernel {
  /**
   * Training forward with batch statistics: mean = E[x], var = E[(x - mean)^2] (biased),
   * y = (x - mean) / sqrt(var + eps) * gamma + beta. Writes y, mean and var; running statistics are the caller's.
   */
  void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var);

  /** Inference forward with given statistics: y = (x - mean) / sqrt(var + eps) * gamma + beta. */
  void forwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps, Tensor y);

  /**
   * Backward. With {@code useGlobalStats} false, mean and var are the batch statistics of the forward pass and
   * dx = rstd / n * (n * g - sum(g) - xhat * sum(g * xhat)) with g = dy * gamma; with it true (eval mode) they are
   * constants and dx = dy * gamma * rstd. dgamma = sum(dy * xhat), dbeta = sum(dy), per channel; dgamma and dbeta
   * are null when not wanted (and always null without gamma).
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
