package dev.normkit.backend.routing;

import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.LayerNormKernel;
import dev.normkit.backend.dnnl.DnnlLayerNorm;
import dev.normkit.backend.kernels.NativeLayerNorm;

/**
 * Layer norm for {@link dev.normkit.Backend#NATIVE}: oneDNN ({@link DnnlLayerNorm}) for many short rows in logical
 * memory order, normkit's kernels ({@link NativeLayerNorm}) for everything else, chosen by measurement.
 *
 * <p>Median microseconds per call through {@link dev.normkit.Functional}, one OpenMP thread, oneDNN and normkit
 * timed alternately in one process on a 2-core Sapphire Rapids VM shared with other jobs (indicative). Rows (M, D)
 * in logical memory order:
 *
 * <pre>
 * (M, D)          forward            backward
 *                 oneDNN  normkit    oneDNN  normkit
 * (1, 768)          5.9     1.8       12.6     6.4
 * (8, 768)          9-54   13.3        9.0     7.1
 * (128, 768)       19.7    26.3       49.1    63.1
 * (512, 768)      128     196        346     354
 * (2048, 768)     556     820       1338    1106
 * (128, 1536)      35.4    47.0      115     134
 * (128, 3072)     180     179        377     341
 * (32, 12544)     189     164        472     436
 * (16, 65536)     602     502       1622    1039
 * (8, 802816)   13750    3687      28060   10719   (x = (8, 256, 56, 56) over (C, H, W))
 * </pre>
 *
 * Channels-last over (C, H, W) (oneDNN permutes the parameters per call, normkit gathers them per chunk):
 * (32, 64, 14, 14) forward 283 vs 190, backward 593 vs 438; (8, 256, 56, 56) forward 14469 vs 5423, backward 36729
 * vs 14923; (1, 64, 7, 7) forward 30.7 vs 4.0, backward 58.9 vs 10.6.
 *
 * <p>Re-measured once normkit's kernels stopped entering OpenMP regions for small calls (Zen 4, median us, forward /
 * backward, oneDNN vs normkit): with 1 thread (64, 768) 13.9 / 20.4 vs 9.6 / 21.2, (128, 768) 21.9 / 39.8 vs
 * 21.3 / 42.9, (512, 768) 68.8 / 144 vs 111 / 135, (2048, 768) 273 / 711 vs 446 / 727; with 2 threads oneDNN's own
 * threading costs small problems dearly, (128, 768) 36.8 / 95.7 vs 16.5 / 29.5, while (2048, 768) gives 159 / 386
 * vs 267 / 525.
 *
 * <p>oneDNN's float statistics beat normkit's double accumulation where rows are short and many (the work is
 * compute-bound in L1): rows in logical order of at most {@link #ONEDNN_MAX_ROW} values, at least
 * {@link #ONEDNN_MIN_ROWS} of them, go to oneDNN; fewer rows go to normkit (lower per-call overhead, no thread
 * wake-up for small problems), and so do long rows (normkit reads each row once from memory and its parameters once
 * per chunk).
 */
public final class RoutedLayerNorm implements LayerNormKernel {
  public static final RoutedLayerNorm INSTANCE = new RoutedLayerNorm();

  /** The longest row (values per statistics set) routed to oneDNN. */
  static final long ONEDNN_MAX_ROW = 2048;

  /** The fewest rows routed to oneDNN. */
  static final long ONEDNN_MIN_ROWS = 256;

  private RoutedLayerNorm() {}

  /** The kernel that runs layer norm over the trailing {@code normalizedDims} dims of x (public for tests and reports). */
  public static LayerNormKernel kernelFor(Tensor x, int normalizedDims) {
    Shape s = x.shape();
    long row = s.product(s.rank() - normalizedDims, s.rank());
    long rows = row == 0 ? 0 : s.elementCount() / row;
    boolean oneDnn = x.isMemoryInLogicalOrder() && row <= ONEDNN_MAX_ROW && rows >= ONEDNN_MIN_ROWS;
    return oneDnn ? DnnlLayerNorm.INSTANCE : NativeLayerNorm.INSTANCE;
  }

  @Override
  public void forward(
      Tensor x, int normalizedDims, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    kernelFor(x, normalizedDims).forward(x, normalizedDims, gamma, beta, eps, y, mean, var);
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
    kernelFor(x, normalizedDims).backward(x, dy, normalizedDims, gamma, mean, var, eps, dx, dgamma, dbeta);
  }
}
