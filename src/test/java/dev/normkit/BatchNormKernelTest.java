package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class BatchNormKernelTest {
  @Test
  void nativeMatchesReferenceSmoke() {
    Shape shape = Shape.of(4, 3, 5, 5);
    for (Layout layout : Layout.values()) {
      float[] xs = TestData.normal(1, (int) shape.elementCount(), 0.5, 2);
      try (Tensor x = Tensor.of(xs, shape, layout);
          Tensor g = Tensor.vector(1f, 2f, 0.5f);
          Tensor b = Tensor.vector(0f, 1f, -1f);
          Tensor y1 = Tensor.zeros(shape, layout);
          Tensor y2 = Tensor.zeros(shape, layout);
          Tensor m1 = Tensor.zeros(Shape.of(3));
          Tensor v1 = Tensor.zeros(Shape.of(3));
          Tensor m2 = Tensor.zeros(Shape.of(3));
          Tensor v2 = Tensor.zeros(Shape.of(3))) {
        Functional.batchNorm(Backend.NATIVE, x, null, null, g, b, true, 0.1, 1e-5, y1, m1, v1);
        Functional.batchNorm(Backend.JAVA, x, null, null, g, b, true, 0.1, 1e-5, y2, m2, v2);
        Close.assertClose("y " + layout, y1.toArray(), y2.toArray(), 1e-6, 1e-5);
        Close.assertClose("mean", m1.toArray(), m2.toArray(), 1e-6, 1e-5);
        Close.assertClose("var", v1.toArray(), v2.toArray(), 1e-6, 1e-5);
        assertEquals(3, m1.elementCount());
      }
    }
  }
}
