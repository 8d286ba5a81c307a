package dev.normkit.backend;

import dev.normkit.Tensor;

/**
 * Layer normalization over the trailing {@code normalizedDims} dims of x, per leading index, with elementwise gamma
 * and beta of the normalized shape (in logical C order). Statistics mean and var have shape (M) where M is the
 * product of the leading dims.
 */
public interface LayerNormKernel {
  /** y = (x - mean) / sqrt(var + eps) * gamma + beta; writes y, mean, var (biased). gamma/beta may be null. */
  void forward(
      Tensor x, int normalizedDims, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var);

  /**
   * dx = rstd / n * (n * g - sum(g) - xhat * sum(g * xhat)) with g = dy * gamma over each normalized set;
   * dgamma = sum over leading indices of dy * xhat, dbeta = sum of dy (elementwise); both null when not wanted.
   */
  void backward(
      Tensor x,
      Tensor dy,
      int normalizedDims,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta);
}
