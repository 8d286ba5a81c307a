package dev.normkit.backend.routing;

import dev.normkit.Tensor;
import dev.normkit.backend.BatchNormKernel;
import dev.normkit.backend.kernels.NativeBatchNorm;

/**
 * Batch norm for {@link dev.normkit.Backend#NATIVE}: normkit's kernels ({@link NativeBatchNorm}) for every pass and
 * layout, chosen by measurement against oneDNN ({@link dev.normkit.backend.dnnl.DnnlBatchNorm}).
 *
 * <p>Median microseconds per call through {@link dev.normkit.Functional}, one OpenMP thread, oneDNN and normkit
 * timed alternately in one process on a 2-core Sapphire Rapids VM shared with other jobs (indicative, +-10% from run
 * to run):
 *
 * <pre>
 * pass               layout  (32, 64, 14, 14)   (8, 256, 56, 56)   (1, 64, 7, 7)
 *                            oneDNN  normkit    oneDNN  normkit    oneDNN normkit
 * forward training   nchw     1085     292      15803    3160       11.0    5.3
 * forward inference  nchw      556     149      10239    2065        7.0    1.7
 * backward           nchw     1374     317      23519    6233       13.2    4.2
 * backward (global)  nchw      558     308      14962    6526        6.5    4.0
 * forward training   nhwc      150-160 158-167   5238    4563        4.2    3.7
 * forward inference  nhwc      101-105  96-101   2195    1989        3.2    1.7
 * backward           nhwc      295-318 278-305   6855    6966        3.7    3.1
 * backward (global)  nhwc      225-248 226-288   5133    4458        3.6    2.7
 * </pre>
 *
 * oneDNN's channels-first kernel ({@code ncsp_bnorm}) is 3 to 7 times slower; channels-last, oneDNN's
 * {@code bnorm_jit} and normkit's row sweeps are within the run-to-run noise of each other, and the tie goes to
 * normkit, whose statistics accumulate in double and do not depend on a JIT's choices.
 */
public final class RoutedBatchNorm implements BatchNormKernel {
  public static final RoutedBatchNorm INSTANCE = new RoutedBatchNorm();

  private RoutedBatchNorm() {}

  @Override
  public void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    NativeBatchNorm.INSTANCE.forwardTraining(x, gamma, beta, eps, y, mean, var);
  }

  @Override
  public void forwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps, Tensor y) {
    NativeBatchNorm.INSTANCE.forwardInference(x, gamma, beta, mean, var, eps, y);
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
    NativeBatchNorm.INSTANCE.backward(x, dy, gamma, mean, var, eps, useGlobalStats, dx, dgamma, dbeta);
  }
}
