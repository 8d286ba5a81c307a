package dev.normkit.backend.dnnl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.Layout;
import dev.normkit.Normkit;
import dev.normkit.Shape;
import dev.normkit.StdConv2d;
import dev.normkit.Tensor;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The threads a convolution runs on: one for a small convolution with few output positions (under 8 MFLOP and 1024
 * positions), the requested count otherwise (the measurements are in {@link DnnlConvolution}); and the switch between
 * the two counts, which such a convolution makes beside ops on the requested count on every call, allocates nothing.
 */
class ConvolutionThreadsTest {
  @Test
  void smallConvolutionsWithFewPositionsRunOnOneThread() {
    // (1, 64, 7, 7) -> 64, 3x3: 3.6 MFLOP, 49 positions
    assertEquals(1, DnnlConvolution.threadsFor(Shape.of(1, 64, 7, 7), Shape.of(64, 64, 3, 3), 2));
    // (1, 16, 7, 7) -> 16: 0.2 MFLOP
    assertEquals(1, DnnlConvolution.threadsFor(Shape.of(1, 16, 7, 7), Shape.of(16, 16, 3, 3), 2));
    // (1, 64, 10, 10) -> 64: 7.4 MFLOP, 100 positions
    assertEquals(1, DnnlConvolution.threadsFor(Shape.of(1, 64, 10, 10), Shape.of(64, 64, 3, 3), 2));
    // grouped: (1, 256, 7, 7) depthwise, 0.2 MFLOP
    assertEquals(1, DnnlConvolution.threadsFor(Shape.of(1, 256, 7, 7), Shape.of(256, 1, 3, 3), 2));
  }

  @Test
  void largeConvolutionsOrManyPositionsUseTheRequestedThreads() {
    // (2, 1, 28, 28) -> 32: 0.9 MFLOP but 1568 positions (2 threads win its backward)
    assertEquals(2, DnnlConvolution.threadsFor(Shape.of(2, 32, 28, 28), Shape.of(32, 1, 3, 3), 2));
    // (2, 32, 14, 14) -> 64: 14.5 MFLOP
    assertEquals(2, DnnlConvolution.threadsFor(Shape.of(2, 64, 14, 14), Shape.of(64, 32, 3, 3), 2));
    // (1, 512, 7, 7) -> 512: 231 MFLOP on 49 positions
    assertEquals(2, DnnlConvolution.threadsFor(Shape.of(1, 512, 7, 7), Shape.of(512, 512, 3, 3), 2));
    assertEquals(1, DnnlConvolution.threadsFor(Shape.of(2, 64, 14, 14), Shape.of(64, 32, 3, 3), 1));
  }

  /**
   * A small StdConv2d on 2 requested threads: its weight standardization runs on the requested count, its convolution
   * on one, so the calling thread's OpenMP count changes twice per call. Setting it built a failure message on every
   * call (about 100-200 bytes) until the message was made lazy. Also: the result is the 1-thread result, bitwise.
   */
  @Test
  void alternatingThreadCountsAllocateNothing() {
    int before = Normkit.numThreads();
    SplittableRandom r = new SplittableRandom(5);
    float[] v = new float[64 * 7 * 7];
    for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
    try (Tensor x = Tensor.of(v, Shape.of(1, 64, 7, 7), Layout.CHANNELS_FIRST);
        Tensor y1 = Tensor.zeros(x.shape(), Layout.CHANNELS_FIRST);
        Tensor y2 = Tensor.zeros(x.shape(), Layout.CHANNELS_FIRST);
        StdConv2d conv = StdConv2d.builder(64, 64, 3).padding(1).build()) {
      Normkit.setNumThreads(1);
      conv.forward(x, y1);
      Normkit.setNumThreads(2);
      conv.forward(x, y2);
      assertArrayEquals(y1.toArray(), y2.toArray());
      for (int i = 0; i < 20_000; i++) conv.forward(x, y2);
      com.sun.management.ThreadMXBean bean =
          (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
      long id = Thread.currentThread().getId();
      // the least of several windows: a window may still run code the JIT has not finished compiling (whose
      // argument arrays it would later eliminate); an allocation on every call shows in every window
      int calls = 2_000;
      double least = Double.MAX_VALUE;
      for (int window = 0; window < 10 && least >= 8; window++) {
        long allocated = bean.getThreadAllocatedBytes(id);
        for (int i = 0; i < calls; i++) conv.forward(x, y2);
        least = Math.min(least, (bean.getThreadAllocatedBytes(id) - allocated) / (double) calls);
      }
      assertTrue(least < 8, "heap bytes per call, least of the windows: " + least);
    } finally {
      Normkit.setNumThreads(before);
    }
  }
}
