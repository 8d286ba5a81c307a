package dev.normkit.backend.routing;

import dev.normkit.Tensor;
import dev.normkit.backend.GroupNormKernel;
import dev.normkit.backend.kernels.NativeGroupNorm;

/**
 * Group norm for {@link dev.normkit.Backend#NATIVE}: normkit's kernels ({@link NativeGroupNorm}) for both passes and
 * layouts, chosen by measurement against oneDNN ({@link dev.normkit.backend.dnnl.DnnlGroupNorm}).
 *
 * <p>Median microseconds per call through {@link dev.normkit.Functional}, 32 groups (C = 64 or 256), one OpenMP
 * thread, oneDNN and normkit timed alternately in one process on a 2-core Sapphire Rapids VM shared with other jobs
 * (indicative):
 *
 * <pre>
 * pass      layout  (32, 64, 14, 14)    (8, 256, 56, 56)     (1, 64, 7, 7)
 *                   oneDNN  normkit     oneDNN   normkit     oneDNN normkit
 * forward   nchw     1042     217       19106      3445       11.9    3.4
 * backward  nchw    77605     416     1261484      5374      418      4.2
 * forward   nhwc     2358     163       33774      3717       31.3    5.7
 * backward  nhwc    53622     293     2013702      7028      551      7.5
 * </pre>
 *
 * (oneDNN's (8, 256, 56, 56) figures are from the bench command's single pass; its backward is the reference
 * implementation.) normkit is faster everywhere, by 5 to 250 times.
 */
public final class RoutedGroupNorm implements GroupNormKernel {
  public static final RoutedGroupNorm INSTANCE = new RoutedGroupNorm();

  private RoutedGroupNorm() {}

  @Override
  public void forward(Tensor x, int groups, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    NativeGroupNorm.INSTANCE.forward(x, groups, gamma, beta, eps, y, mean, var);
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
    NativeGroupNorm.INSTANCE.backward(x, dy, groups, gamma, mean, var, eps, dx, dgamma, dbeta);
  }
}
