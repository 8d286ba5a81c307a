package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Outputs written over an input. The normalizations and weight standardization may run in place (the output is the
 * input's memory, whole; layer-norm backward excepted): the result is bitwise the out-of-place one, for every backend,
 * layout and pass, on one thread's and two threads' shapes. A partial overlap is an {@link IllegalArgumentException}, and so is any memory a
 * convolution's output shares with an input: oneDNN's channels-last convolution run in place gave garbage (values
 * of 1e23 and NaN) before these checks.
 */
class InPlaceTest {
  /** One op with the output that may alias {@code in}; {@code extra} collects any other outputs to compare. */
  interface Op {
    void run(Tensor in, Tensor out, List<float[]> extra);
  }

  record Case(String name, Backend backend, Layout layout, Shape shape, Tensor input, Op op) {
    @Override
    public String toString() {
      return name + " " + backend + " " + layout + " " + shape;
    }
  }

  static List<Case> cases() {
    List<Case> cases = new ArrayList<>();
    for (Backend backend : Backend.values()) {
      for (Layout layout : Layout.values()) {
        for (Shape s : new Shape[] {Shape.of(4, 32, 14, 14), Shape.of(8, 64, 32, 32)}) {
          addNormCases(cases, backend, layout, s);
        }
      }
      Shape w = Shape.of(64, 32, 3, 3);
      Tensor weight = Tensor.of(TestData.normal(31, (int) w.elementCount(), 0.1, 1), w);
      Tensor dwHat = Tensor.of(TestData.normal(32, (int) w.elementCount(), 0, 1), w);
      Tensor mean = Tensor.zeros(Shape.of(64)), rstd = Tensor.zeros(Shape.of(64));
      WsVariant v = WsVariant.SEED;
      try (Tensor scratch = Tensor.empty(w, Layout.CHANNELS_FIRST)) {
        Functional.weightStandardize(backend, weight, v, v.defaultEps(), 1, null, scratch, mean, rstd);
      }
      cases.add(new Case("weight-std forward", backend, Layout.CHANNELS_FIRST, w, weight,
          (in, out, extra) -> Functional.weightStandardize(backend, in, v, v.defaultEps(), 1, null, out, null, null)));
      cases.add(new Case("weight-std backward over dwHat", backend, Layout.CHANNELS_FIRST, w, dwHat,
          (in, out, extra) -> Functional.weightStandardizeBackward(
              backend, weight, in, v, v.defaultEps(), 1, null, mean, rstd, out, null)));
      cases.add(new Case("weight-std backward over w", backend, Layout.CHANNELS_FIRST, w, weight,
          (in, out, extra) -> Functional.weightStandardizeBackward(
              backend, in, dwHat, v, v.defaultEps(), 1, null, mean, rstd, out, null)));
    }
    return cases;
  }

  private static void addNormCases(List<Case> cases, Backend backend, Layout layout, Shape s) {
    int n = (int) s.elementCount(), c = (int) s.channels(), groups = 8;
    Shape perChannel = Shape.of(c), normalized = Shape.of(s.dim(1), s.dim(2), s.dim(3));
    Tensor x = Tensor.of(TestData.normal(1, n, 0.5, 2), s, layout);
    Tensor dy = Tensor.of(TestData.normal(2, n, 0, 1), s, layout);
    Tensor gamma = Tensor.of(TestData.uniform(3, c, 0.5, 1.5), perChannel);
    Tensor beta = Tensor.of(TestData.normal(4, c, 0, 1), perChannel);
    Tensor runningMean = Tensor.of(TestData.normal(5, c, 0, 1), perChannel);
    Tensor runningVar = Tensor.of(TestData.uniform(6, c, 0.5, 2), perChannel);
    int d = (int) normalized.elementCount();
    Tensor lnGamma = Tensor.of(TestData.uniform(7, d, 0.5, 1.5), normalized);
    Tensor lnBeta = Tensor.of(TestData.normal(8, d, 0, 1), normalized);
    // saved statistics of x for the backward passes
    Tensor bnMean = Tensor.zeros(perChannel), bnVar = Tensor.zeros(perChannel);
    Tensor inMean = Tensor.zeros(Shape.of(s.dim(0), c)), inVar = Tensor.zeros(Shape.of(s.dim(0), c));
    Tensor gnMean = Tensor.zeros(Shape.of(s.dim(0), groups)), gnVar = Tensor.zeros(Shape.of(s.dim(0), groups));
    Tensor lnMean = Tensor.zeros(Shape.of(s.dim(0))), lnVar = Tensor.zeros(Shape.of(s.dim(0)));
    try (Tensor y = Tensor.empty(s, layout)) {
      Functional.batchNorm(backend, x, null, null, gamma, beta, true, 0.1, 1e-5, y, bnMean, bnVar);
      Functional.instanceNorm(backend, x, null, null, gamma, beta, true, 0.1, 1e-5, y, inMean, inVar);
      Functional.groupNorm(backend, x, groups, gamma, beta, 1e-5, y, gnMean, gnVar);
      Functional.layerNorm(backend, x, normalized, lnGamma, lnBeta, 1e-5, y, lnMean, lnVar);
    }
    cases.add(new Case("batch-norm training forward", backend, layout, s, x,
        (in, out, extra) -> Functional.batchNorm(backend, in, null, null, gamma, beta, true, 0.1, 1e-5, out, null, null)));
    cases.add(new Case("batch-norm inference forward", backend, layout, s, x, (in, out, extra) ->
        Functional.batchNorm(backend, in, runningMean, runningVar, gamma, beta, false, 0.1, 1e-5, out, null, null)));
    cases.add(new Case("instance-norm forward", backend, layout, s, x,
        (in, out, extra) -> Functional.instanceNorm(backend, in, null, null, gamma, beta, true, 0.1, 1e-5, out, null,
            null)));
    cases.add(new Case("group-norm forward", backend, layout, s, x,
        (in, out, extra) -> Functional.groupNorm(backend, in, groups, gamma, beta, 1e-5, out, null, null)));
    cases.add(new Case("layer-norm forward", backend, layout, s, x,
        (in, out, extra) -> Functional.layerNorm(backend, in, normalized, lnGamma, lnBeta, 1e-5, out, null, null)));
    Backward[] backwards = {
      (xx, g, dx, dgamma, dbeta) -> Functional.batchNormBackward(backend, xx, g, gamma, bnMean, bnVar, true, 1e-5, dx,
          dgamma, dbeta),
      (xx, g, dx, dgamma, dbeta) -> Functional.instanceNormBackward(backend, xx, g, gamma, inMean, inVar, true, 1e-5,
          dx, dgamma, dbeta),
      (xx, g, dx, dgamma, dbeta) -> Functional.groupNormBackward(backend, xx, g, groups, gamma, gnMean, gnVar, 1e-5,
          dx, dgamma, dbeta),
    };
    String[] names = {"batch-norm", "instance-norm", "group-norm"};
    for (int i = 0; i < backwards.length; i++) {
      Backward b = backwards[i];
      cases.add(new Case(names[i] + " backward over dy", backend, layout, s, dy,
          (in, out, extra) -> withParameterGradients(perChannel, extra, (dg, db) -> b.run(x, in, out, dg, db))));
      cases.add(new Case(names[i] + " backward over x", backend, layout, s, x,
          (in, out, extra) -> withParameterGradients(perChannel, extra, (dg, db) -> b.run(in, dy, out, dg, db))));
    }
  }

  interface Backward {
    void run(Tensor x, Tensor dy, Tensor dx, Tensor dgamma, Tensor dbeta);
  }

  interface WithGradients {
    void run(Tensor dgamma, Tensor dbeta);
  }

  /** Runs with fresh parameter-gradient tensors and adds their values to {@code extra}. */
  private static void withParameterGradients(Shape params, List<float[]> extra, WithGradients body) {
    try (Tensor dgamma = Tensor.zeros(params);
        Tensor dbeta = Tensor.zeros(params)) {
      body.run(dgamma, dbeta);
      extra.add(dgamma.toArray());
      extra.add(dbeta.toArray());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void inPlaceEqualsOutOfPlace(Case c) {
    List<float[]> expectedExtra = new ArrayList<>(), inPlaceExtra = new ArrayList<>();
    try (Tensor in = c.input().copy();
        Tensor out = Tensor.empty(c.shape(), c.layout());
        Tensor both = c.input().copy()) {
      c.op().run(in, out, expectedExtra);
      c.op().run(both, both, inPlaceExtra);
      assertArrayEquals(out.toArray(), both.toArray(), c + ": output");
      for (int i = 0; i < expectedExtra.size(); i++) {
        assertArrayEquals(expectedExtra.get(i), inPlaceExtra.get(i), c + ": parameter gradient " + i);
      }
    }
  }

  /**
   * Layer-norm backward may not write dx over x or dy: for sets too large for cache normkit's kernel sums dgamma in a
   * pass after dx is written, and dgamma came out wrong in place ((8, 64, 32, 32) over (64, 32, 32)) before this
   * check.
   */
  @Test
  void layerNormBackwardCannotRunInPlace() {
    Shape s = Shape.of(2, 8, 4, 4), normalized = Shape.of(8, 4, 4);
    try (Tensor x = Tensor.of(TestData.normal(1, (int) s.elementCount(), 0, 1), s);
        Tensor dy = Tensor.of(TestData.normal(2, (int) s.elementCount(), 0, 1), s);
        Tensor mean = Tensor.zeros(Shape.of(2));
        Tensor var = Tensor.zeros(Shape.of(2))) {
      var.fill(1);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
          Functional.layerNormBackward(Backend.NATIVE, x, dy, normalized, null, mean, var, 1e-5, dy, null, null));
      assertTrue(e.getMessage().contains("gradInput shares memory with gradOutput"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () ->
          Functional.layerNormBackward(Backend.NATIVE, x, dy, normalized, null, mean, var, 1e-5, x, null, null));
      assertTrue(e.getMessage().contains("gradInput shares memory with input"), e.getMessage());
    }
  }

  /** copyFrom between tensors whose memory overlaps copies the source's values as they were before the copy. */
  @Test
  void copyFromAnOverlappingTensorCopiesTheOriginalValues() {
    for (int size : new int[] {1000, 1 << 20}) {
      copyOverlapping(size);
    }
  }

  private static void copyOverlapping(int size) {
    Shape s = Shape.of(size);
    float[] values = TestData.normal(9, size + 16, 0, 1);
    for (int shift : new int[] {16, -16}) {
      try (Tensor memory = Tensor.of(values, Shape.of(values.length))) {
        Tensor low = Tensor.wrap(memory.pointer(), s, Layout.CHANNELS_FIRST);
        Tensor high = Tensor.wrap(memory.pointer().position(16), s, Layout.CHANNELS_FIRST);
        Tensor from = shift > 0 ? low : high, to = shift > 0 ? high : low;
        float[] expected = from.toArray();
        to.copyFrom(from);
        assertArrayEquals(expected, to.toArray(), "size " + size + " shift " + shift);
      }
    }
  }

  @Test
  void aPartialOverlapIsRejected() {
    Shape s = Shape.of(2, 16, 4, 4);
    try (Tensor memory = Tensor.zeros(Shape.of(2 * s.elementCount()))) {
      Tensor x = Tensor.wrap(memory.pointer(), s, Layout.CHANNELS_FIRST);
      Tensor y = Tensor.wrap(memory.pointer().position(16), s, Layout.CHANNELS_FIRST);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Functional.groupNorm(Backend.NATIVE, x, 4, null, null, 1e-5, y, null, null));
      assertTrue(e.getMessage().contains("output overlaps input"), e.getMessage());
    }
  }

  @Test
  void aConvolutionCannotWriteOverItsInputs() {
    Shape s = Shape.of(2, 16, 8, 8), ws = Shape.of(16, 16, 3, 3);
    Conv2dSpec same = Conv2dSpec.of(1, 1, 1, 1);
    try (Tensor x = Tensor.of(TestData.normal(1, (int) s.elementCount(), 0, 1), s, Layout.CHANNELS_LAST);
        Tensor w = Tensor.of(TestData.normal(2, (int) ws.elementCount(), 0, 1), ws);
        Tensor dw = Tensor.zeros(ws)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Functional.conv2d(Backend.NATIVE, x, w, null, same, x));
      assertTrue(e.getMessage().contains("output shares memory with input"), e.getMessage());
      try (Tensor dy = x.copy()) {
        e = assertThrows(IllegalArgumentException.class,
            () -> Functional.conv2dBackward(Backend.NATIVE, x, w, dy, same, dy, dw, null));
        assertTrue(e.getMessage().contains("gradInput shares memory with gradOutput"), e.getMessage());
      }
      FloatPointer inside = x.pointer().position(s.elementCount() / 2);
      Tensor half = Tensor.wrap(inside, Shape.of(1, 16, 8, 8), Layout.CHANNELS_LAST);
      e = assertThrows(IllegalArgumentException.class,
          () -> Functional.conv2dBackward(Backend.NATIVE, half, w, half.copy(), same, half, null, null));
      assertTrue(e.getMessage().contains("gradInput shares memory"), e.getMessage());
    }
  }
}
