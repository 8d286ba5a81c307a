package dev.normkit.bench;

import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.kernels.NormkitKernels;

/**
 * The memory-bandwidth yardstick: y = a * x + b streamed over as many bytes as a case moves (half read, half
 * written), by normkit's vectorized, OpenMP-parallel {@code nk_scale_shift}. A normalization pass cannot beat it.
 */
final class StreamingProbe implements AutoCloseable {
  private Tensor src;
  private Tensor dst;

  /** A call that streams {@code bytes} bytes: reads bytes/2 and writes bytes/2. */
  Runnable over(long bytes) {
    long n = Math.max(1, bytes / (2L * Float.BYTES));
    if (src == null || src.elementCount() < n) {
      close();
      src = Tensor.zeros(Shape.of(n));
      dst = Tensor.zeros(Shape.of(n));
      src.fill(1.5f);
    }
    Tensor s = src, d = dst;
    return () -> NormkitKernels.scaleShift(s, d, n, 2f, 1f);
  }

  @Override
  public void close() {
    if (src != null) src.close();
    if (dst != null) dst.close();
    src = dst = null;
  }
}
