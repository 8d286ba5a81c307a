package dev.normkit.backend.dnnl;

import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.normkit.Conv2dSpec;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Which kernel oneDNN picks on x = (32, 64, 14, 14) in both layouts (run with -Dnormkit.printImplementations=true to
 * print them). Asserted: no pass that has an optimized kernel in oneDNN 3.11 on x86-64 falls back to the reference
 * ({@code ref:any}), which is 100 to 1000 times slower; group norm's backward is reference-only on CPU and is only
 * reported. Creating primitives runs nothing, so this test is cheap.
 */
class DnnlImplementationTest {
  private static final Shape X = Shape.of(32, 64, 14, 14);
  private static final double EPS = 1e-5;

  @Test
  void layerNormUsesOptimizedKernels() {
    for (Layout layout : Layout.values()) {
      try (Tensor x = Tensor.empty(X, layout)) {
        for (int dims : new int[] {1, 3}) {
          String forward = DnnlLayerNorm.implementation(x, dims, true, false, EPS);
          String backward = DnnlLayerNorm.implementation(x, dims, true, true, EPS);
          report("layer_norm " + layout + " normalized dims " + dims, forward, backward);
          assertOptimized(forward, "layer_norm forward " + layout);
          assertOptimized(backward, "layer_norm backward " + layout);
        }
      }
    }
  }

  @Test
  void groupNormForwardUsesOptimizedKernels() {
    for (Layout layout : Layout.values()) {
      try (Tensor x = Tensor.empty(X, layout)) {
        for (int groups : new int[] {1, 8, 32}) {
          String forward = DnnlGroupNorm.implementation(x, groups, true, false, EPS);
          report("group_norm " + layout + " groups " + groups, forward,
              DnnlGroupNorm.implementation(x, groups, true, true, EPS));
          assertOptimized(forward, "group_norm forward " + layout + " groups " + groups);
        }
      }
    }
  }

  @Test
  void convolutionUsesOptimizedKernels() {
    for (Layout layout : Layout.values()) {
      for (int groups : new int[] {1, 64}) {
        Conv2dSpec spec = Conv2dSpec.of(1, 1, 1, groups);
        try (Tensor x = Tensor.empty(X, layout);
            Tensor w = Tensor.empty(Shape.of(64, 64 / groups, 3, 3), Layout.CHANNELS_FIRST);
            Tensor y = Tensor.empty(X, layout)) {
          String all = DnnlConvolution.implementations(x, w, y, spec, true);
          report("convolution 3x3 " + layout + " groups " + groups, all, "");
          assertOptimized(all, "convolution " + layout + " groups " + groups);
        }
      }
    }
  }

  private static void assertOptimized(String implementation, String what) {
    assertFalse(implementation.contains("ref:"), what + " fell back to oneDNN's reference kernel: " + implementation);
  }

  private static void report(String what, String forward, String backward) {
    if (Boolean.getBoolean("normkit.printImplementations")) {
      System.out.println(what + ": " + forward + (backward.isEmpty() ? "" : " | backward " + backward));
    }
  }
}
