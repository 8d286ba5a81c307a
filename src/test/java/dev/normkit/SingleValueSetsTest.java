package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Statistics sets of one value: xhat = 0 and dy - mean(dy) = 0, so the input gradient is exactly zero (PyTorch's
 * float32 kernels give exact zeros too). Written as a * dy + c, it would leave float rounding residue instead.
 */
class SingleValueSetsTest {
  private static Tensor random(Shape shape, Layout layout, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[Math.toIntExact(shape.elementCount())];
    for (int i = 0; i < v.length; i++) v[i] = (float) (3 * r.nextDouble() - 1);
    return Tensor.of(v, shape, layout);
  }

  @ParameterizedTest
  @EnumSource(Layout.class)
  void groupNormWithOneValuePerGroupHasZeroInputGradient(Layout layout) {
    for (Backend backend : Backend.values()) {
      Shape shape = Shape.of(3, 6);
      try (Tensor x = random(shape, layout, 1);
          Tensor dy = random(shape, layout, 2);
          Tensor w = random(Shape.of(6), Layout.CHANNELS_FIRST, 3);
          Tensor b = random(Shape.of(6), Layout.CHANNELS_FIRST, 4);
          Tensor y = Tensor.empty(shape, layout);
          Tensor mean = Tensor.zeros(Shape.of(3, 6));
          Tensor var = Tensor.zeros(Shape.of(3, 6));
          Tensor dx = Tensor.empty(shape, layout);
          Tensor dw = Tensor.zeros(Shape.of(6));
          Tensor db = Tensor.zeros(Shape.of(6))) {
        Functional.groupNorm(backend, x, 6, w, b, 1e-5, y, mean, var);
        Functional.groupNormBackward(backend, x, dy, 6, w, mean, var, 1e-5, dx, dw, db);
        assertArrayEquals(new float[18], dx.toArray(), backend + " " + layout);
        assertArrayEquals(new float[6], dw.toArray(), backend + " " + layout);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Layout.class)
  void layerNormOverOneValueHasZeroInputGradient(Layout layout) {
    for (Backend backend : Backend.values()) {
      Shape shape = Shape.of(4, 5, 1);
      Shape normalized = Shape.of(1);
      try (Tensor x = random(shape, layout, 5);
          Tensor dy = random(shape, layout, 6);
          Tensor y = Tensor.empty(shape, layout);
          Tensor mean = Tensor.zeros(Functional.layerNormStatisticsShape(shape, normalized));
          Tensor var = Tensor.zeros(Functional.layerNormStatisticsShape(shape, normalized));
          Tensor dx = Tensor.empty(shape, layout)) {
        Functional.layerNorm(backend, x, normalized, null, null, 1e-5, y, mean, var);
        Functional.layerNormBackward(backend, x, dy, normalized, null, mean, var, 1e-5, dx, null, null);
        assertArrayEquals(new float[20], dx.toArray(), backend + " " + layout);
      }
    }
  }
}
