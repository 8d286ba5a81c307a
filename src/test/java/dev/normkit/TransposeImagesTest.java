package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.backend.kernels.NormkitKernels;
import dev.normkit.backend.kernels.NormkitKernels.Isa;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * normkit's layout change of activations (nk_transpose_images, which the convolution uses for channels-first
 * tensors): every value lands exactly where a transpose puts it, in each ISA, for matrices made of whole 16 x 16
 * blocks, of edges only, and of both; bad arguments are refused in Java.
 */
class TransposeImagesTest {
  static List<Arguments> cases() {
    long[][] dims = {{1, 16, 16}, {3, 64, 196}, {2, 196, 64}, {2, 17, 33}, {1, 3, 50}, {4, 1, 7}, {2, 40, 1}, {5, 31, 16}};
    List<Arguments> cases = new ArrayList<>();
    for (Isa isa : IsaCap.supported()) {
      for (long[] d : dims) cases.add(Arguments.of(isa, d[0], d[1], d[2]));
    }
    return cases;
  }

  @ParameterizedTest(name = "{0} {1} x {2} x {3}")
  @MethodSource("cases")
  void everyValueLandsWhereTheTransposePutsIt(Isa isa, long n, long rows, long cols) {
    int count = (int) (n * rows * cols);
    float[] values = new float[count];
    for (int i = 0; i < count; i++) values[i] = i + 0.25f;
    float[] expected = new float[count];
    for (int k = 0; k < n; k++) {
      for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
          expected[(int) (k * rows * cols + j * rows + i)] = values[(int) (k * rows * cols + i * cols + j)];
        }
      }
    }
    try (IsaCap cap = new IsaCap(isa);
        Tensor src = Tensor.of(values, Shape.of(count));
        Tensor dst = Tensor.zeros(Shape.of(count));
        Tensor back = Tensor.zeros(Shape.of(count))) {
      NormkitKernels.transposeImages(src, dst, n, rows, cols);
      assertArrayEquals(expected, dst.toArray());
      NormkitKernels.transposeImages(dst, back, n, cols, rows);
      assertArrayEquals(values, back.toArray());
    }
  }

  @Test
  void badArgumentsAreRefusedWithTheirValues() {
    try (Tensor a = Tensor.zeros(Shape.of(12)); Tensor b = Tensor.zeros(Shape.of(12))) {
      IllegalArgumentException negative =
          assertThrows(IllegalArgumentException.class, () -> NormkitKernels.transposeImages(a, b, 1, -3, 4));
      assertTrue(negative.getMessage().contains("-3"), negative.getMessage());
      IllegalArgumentException tooBig =
          assertThrows(IllegalArgumentException.class, () -> NormkitKernels.transposeImages(a, b, 2, 3, 4));
      assertTrue(tooBig.getMessage().contains("12"), tooBig.getMessage());
      assertThrows(IllegalArgumentException.class, () -> NormkitKernels.transposeImages(a, a, 1, 3, 4));
    }
  }
}
