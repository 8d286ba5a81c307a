package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.backend.kernels.NormkitKernels;
import dev.normkit.backend.kernels.NormkitKernels.Isa;
import dev.normkit.backend.kernels.NormkitLibrary;
import dev.normkit.backend.reference.ReferenceInstanceNorm;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * normkit's instance-norm kernels ({@link Backend#NATIVE}) against the double-precision reference ({@link
 * Backend#JAVA}), through {@link Functional}'s full forms, under every ISA the CPU supports; and the reference
 * against finite differences.
 *
 * <p>Tolerances (|a - e| &lt;= atol + rtol * |e|, see {@link Close}) are bounds on float32 rounding; the measured
 * worst cases over all cases and ISAs (printed with {@code -Dnormkit.errors}) are quoted:
 *
 * <ul>
 *   <li>mean, var, dgamma, dbeta: the kernels accumulate in double like the reference, so both round the same double
 *       value (up to double rounding) to float once: rtol 1 ulp (2^-23), atol 1e-9 of the tensor's scale for sums
 *       that cancel to near zero. Measured: 0 (bitwise equal).
 *   <li>y = (x - m) * scale + shift and dx = a * dy + b * (x - mean) + c, in float from coefficients rounded to
 *       float: at most five half-ulp roundings of terms no larger than a few times the output's scale (|xhat| &lt;=
 *       4 or so), i.e. a few ulp: atol 1e-6 (8 ulp) of the scale, which is max|y| for y and the size of dx's
 *       terms, max|dy| * max|gamma| * max rstd, for dx (dx cancels to near zero in small sets, exactly zero for
 *       S = 2). Measured: y 1.7e-7, dx 1.2e-7, eval y 1.6e-7, eval dx 9.4e-8 (about 1.4 ulp).
 * </ul>
 */
class InstanceNormKernelTest {
  private static final double EPS = 1e-5;
  private static final double MOMENTUM = 0.1;
  private static final double ELEMENTWISE_ATOL = 1e-6;
  private static final double STATISTIC_RTOL = 0x1p-23;
  private static final double STATISTIC_ATOL = 1e-9;

  /**
   * (N, C, *spatial): odd sizes, C = 1, 3, 17, 33, N = 1, spatial 2, 3, 7x7, 1-D to 3-D, sets up to 50176 values,
   * and C = 1030, more channels than one NHWC work item takes (1024).
   */
  private static final List<Shape> SHAPES = List.of(
      Shape.of(2, 3, 5, 5),
      Shape.of(1, 1, 2),
      Shape.of(3, 17, 3),
      Shape.of(2, 33, 7, 7),
      Shape.of(1, 3, 7, 7),
      Shape.of(4, 16, 8, 8),
      Shape.of(2, 5, 2, 3, 4),
      Shape.of(1, 40, 9),
      Shape.of(5, 1, 13),
      Shape.of(3, 100, 2, 3),
      Shape.of(2, 64, 14, 14),
      Shape.of(2, 1030, 3),
      Shape.of(1, 2, 224, 224));

  /** Shapes whose set sizes are powers of two: with TestData.exact inputs every statistic is exact in double. */
  private static final List<Shape> EXACT_SHAPES =
      List.of(Shape.of(2, 3, 4, 4), Shape.of(3, 17, 8, 8), Shape.of(1, 33, 16), Shape.of(2, 5, 2, 2, 2));

  private static final MaxErrors ERRORS = new MaxErrors("instance norm, native vs reference");

  static List<Isa> isas() {
    return IsaCap.supported();
  }

  @AfterAll
  static void report() {
    ERRORS.print();
  }

  // ------------------------------------------------------------------------------------------- training

  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void trainingMatchesReference(Isa isa) {
    try (IsaCap cap = new IsaCap(isa)) {
      long seed = 100;
      for (Shape shape : SHAPES) {
        for (Layout layout : Layout.values()) {
          checkTraining(isa, shape, layout, true, seed++, Data.NORMAL);
          checkTraining(isa, shape, layout, false, seed++, Data.NORMAL);
        }
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void exactStatisticsAreExact(Isa isa) {
    try (IsaCap cap = new IsaCap(isa)) {
      long seed = 200;
      for (Shape shape : EXACT_SHAPES) {
        for (Layout layout : Layout.values()) checkTraining(isa, shape, layout, true, seed++, Data.EXACT);
      }
    }
  }

  /**
   * Sets whose mean is 1000 times their std: y = (x - m) * scale + shift subtracts the float mean first, so y stays
   * within the same few ulp of its own scale (folding into x * scale + shift would lose |mean| / std ulp).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void offsetDataKeepsPrecision(Isa isa) {
    try (IsaCap cap = new IsaCap(isa)) {
      long seed = 250;
      for (Shape shape : List.of(Shape.of(2, 3, 5, 5), Shape.of(1, 33, 7, 7), Shape.of(2, 17, 64))) {
        for (Layout layout : Layout.values()) checkTraining(isa, shape, layout, true, seed++, Data.OFFSET);
      }
    }
  }

  /** Kinds of input. */
  private enum Data {
    /** normal(0.5, 2). */
    NORMAL,
    /** TestData.exact: with power-of-two set sizes every statistic is exact, and native and reference agree bitwise. */
    EXACT,
    /** normal(1000, 1). */
    OFFSET;

    float[] values(long seed, int count) {
      switch (this) {
        case EXACT:
          return TestData.exact(seed, count);
        case OFFSET:
          return TestData.normal(seed, count, 1000, 1);
        default:
          return TestData.normal(seed, count, 0.5, 2);
      }
    }
  }

  /** Forward (y, mean, var) and backward (dx, dgamma, dbeta) of one case, native vs reference. */
  private static void checkTraining(Isa isa, Shape shape, Layout layout, boolean affine, long seed, Data data) {
    String where = isa + " " + shape + " " + layout + (affine ? " affine" : "") + " " + data + " seed " + seed;
    int count = Math.toIntExact(shape.elementCount());
    int c = Math.toIntExact(shape.channels());
    Shape stats = Functional.instanceNormStatisticsShape(shape);
    try (TensorScope t = new TensorScope()) {
      Tensor x = t.of(data.values(seed, count), shape, layout);
      Tensor dy = t.of(TestData.normal(seed + 1, count, 0, 1), shape, layout);
      Tensor gamma = affine ? t.vector(TestData.normal(seed + 2, c, 1, 0.5)) : null;
      Tensor beta = affine ? t.vector(TestData.normal(seed + 3, c, 0, 0.5)) : null;
      Tensor[] y = {t.zeros(shape, layout), t.zeros(shape, layout)};
      Tensor[] mean = {t.zeros(stats), t.zeros(stats)};
      Tensor[] var = {t.zeros(stats), t.zeros(stats)};
      Tensor[] dx = {t.zeros(shape, layout), t.zeros(shape, layout)};
      Tensor[] dgamma = {t.zeros(Shape.of(c), Layout.CHANNELS_FIRST, affine), t.zeros(Shape.of(c), Layout.CHANNELS_FIRST, affine)};
      Tensor[] dbeta = {t.zeros(Shape.of(c), Layout.CHANNELS_FIRST, affine), t.zeros(Shape.of(c), Layout.CHANNELS_FIRST, affine)};
      Backend[] backends = {Backend.NATIVE, Backend.JAVA};
      for (int b = 0; b < 2; b++) {
        Functional.instanceNorm(
            backends[b], x, null, null, gamma, beta, true, MOMENTUM, EPS, y[b], mean[b], var[b]);
      }
      // both backward passes start from the reference's statistics, so that each kernel is compared on its own
      for (int b = 0; b < 2; b++) {
        Functional.instanceNormBackward(
            backends[b], x, dy, gamma, mean[1], var[1], true, EPS, dx[b], dgamma[b], dbeta[b]);
      }
      if (data == Data.EXACT) {
        assertArrayEquals(mean[1].toArray(), mean[0].toArray(), "mean " + where);
        assertArrayEquals(var[1].toArray(), var[0].toArray(), "var " + where);
      }
      statistic(isa, "mean", where, mean);
      statistic(isa, "var", where, var);
      elementwise(isa, "y", where, y);
      gradient(isa, "dx", where, dx, gradientScale(dy, gamma, var[1]));
      if (affine) {
        statistic(isa, "dgamma", where, dgamma);
        statistic(isa, "dbeta", where, dbeta);
      }
    }
  }

  // ---------------------------------------------------------------------------------- running statistics

  /**
   * Functional updates the running statistics from the kernel's (N, C) statistics: checked against the update
   * computed directly, in double, from x (mean over n of per-instance means and of unbiased variances).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void runningStatisticsFollowTheBatch(Isa isa) {
    try (IsaCap cap = new IsaCap(isa)) {
      long seed = 300;
      for (Shape shape : List.of(Shape.of(4, 3, 5, 5), Shape.of(1, 17, 3), Shape.of(3, 33, 2, 7))) {
        for (Layout layout : Layout.values()) {
          int count = Math.toIntExact(shape.elementCount());
          int c = Math.toIntExact(shape.channels());
          float[] xs = TestData.normal(seed, count, -1, 3);
          float[] rm0 = TestData.normal(seed + 1, c, 0, 1);
          float[] rv0 = TestData.uniform(seed + 2, c, 0.5, 2);
          try (TensorScope t = new TensorScope()) {
            Tensor x = t.of(xs, shape, layout);
            Tensor rm = t.vector(rm0.clone());
            Tensor rv = t.vector(rv0.clone());
            Tensor y = t.zeros(shape, layout);
            Functional.instanceNorm(Backend.NATIVE, x, rm, rv, null, null, true, MOMENTUM, EPS, y, null, null);
            double[][] expected = expectedRunningStatistics(xs, shape, rm0, rv0);
            String where = isa + " " + shape + " " + layout + " seed " + seed;
            // one float rounding of each (N, C) statistic, then of the blend: 2 ulp
            Close.assertClose("running mean " + where, rm.toArray(), toFloats(expected[0]), 1e-7, 2 * STATISTIC_RTOL);
            Close.assertClose("running var " + where, rv.toArray(), toFloats(expected[1]), 1e-7, 2 * STATISTIC_RTOL);
          }
          seed += 3;
        }
      }
    }
  }

  /** {running mean, running var} after one update, computed from x in logical order. */
  private static double[][] expectedRunningStatistics(float[] x, Shape shape, float[] rm0, float[] rv0) {
    int n = Math.toIntExact(shape.batch()), c = Math.toIntExact(shape.channels());
    int s = Math.toIntExact(shape.spatialSize());
    double[] rm = new double[c], rv = new double[c];
    for (int ic = 0; ic < c; ic++) {
      double meanSum = 0, varSum = 0;
      for (int in = 0; in < n; in++) {
        int base = (in * c + ic) * s;
        double mean = 0;
        for (int i = 0; i < s; i++) mean += x[base + i];
        mean /= s;
        double sq = 0;
        for (int i = 0; i < s; i++) sq += (x[base + i] - mean) * (x[base + i] - mean);
        meanSum += mean;
        varSum += sq / (s - 1);
      }
      rm[ic] = (1 - MOMENTUM) * rm0[ic] + MOMENTUM * meanSum / n;
      rv[ic] = (1 - MOMENTUM) * rv0[ic] + MOMENTUM * varSum / n;
    }
    return new double[][] {rm, rv};
  }

  // ---------------------------------------------------------------------------------------------- eval

  /** Evaluation mode: forward from the running statistics, and the backward that treats them as constants. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void evalModeMatchesReference(Isa isa) {
    try (IsaCap cap = new IsaCap(isa)) {
      long seed = 400;
      for (Shape shape : SHAPES) {
        for (Layout layout : Layout.values()) {
          for (boolean affine : new boolean[] {true, false}) {
            checkEval(isa, shape, layout, affine, seed);
            seed += 5;
          }
        }
      }
    }
  }

  private static void checkEval(Isa isa, Shape shape, Layout layout, boolean affine, long seed) {
    String where = isa + " " + shape + " " + layout + (affine ? " affine" : "") + " seed " + seed;
    int count = Math.toIntExact(shape.elementCount());
    int c = Math.toIntExact(shape.channels());
    Shape perChannel = Shape.of(c);
    try (TensorScope t = new TensorScope()) {
      Tensor x = t.of(TestData.normal(seed, count, 0.5, 2), shape, layout);
      Tensor dy = t.of(TestData.normal(seed + 1, count, 0, 1), shape, layout);
      Tensor rm = t.vector(TestData.normal(seed + 2, c, 0.5, 1));
      Tensor rv = t.vector(TestData.uniform(seed + 3, c, 0.5, 5));
      Tensor gamma = affine ? t.vector(TestData.normal(seed + 4, c, 1, 0.5)) : null;
      Tensor beta = affine ? t.vector(TestData.normal(seed + 5, c, 0, 0.5)) : null;
      Tensor[] y = {t.zeros(shape, layout), t.zeros(shape, layout)};
      Tensor[] dx = {t.zeros(shape, layout), t.zeros(shape, layout)};
      Tensor[] dgamma = {t.zeros(perChannel, Layout.CHANNELS_FIRST, affine), t.zeros(perChannel, Layout.CHANNELS_FIRST, affine)};
      Tensor[] dbeta = {t.zeros(perChannel, Layout.CHANNELS_FIRST, affine), t.zeros(perChannel, Layout.CHANNELS_FIRST, affine)};
      Backend[] backends = {Backend.NATIVE, Backend.JAVA};
      for (int b = 0; b < 2; b++) {
        Functional.instanceNorm(backends[b], x, rm, rv, gamma, beta, false, MOMENTUM, EPS, y[b], null, null);
        Functional.instanceNormBackward(backends[b], x, dy, gamma, rm, rv, false, EPS, dx[b], dgamma[b], dbeta[b]);
      }
      elementwise(isa, "eval y", where, y);
      gradient(isa, "eval dx", where, dx, gradientScale(dy, gamma, rv));
      if (affine) {
        statistic(isa, "eval dgamma", where, dgamma);
        statistic(isa, "eval dbeta", where, dbeta);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------- NaN

  /** One NaN in a set makes that set's outputs NaN (mean, var, y, dx, dgamma of its channel) and no other. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void nanPropagatesWithinItsSet(Isa isa) {
    Shape shape = Shape.of(2, 20, 3, 3);
    int n = 2, c = 20, s = 9, nanN = 1, nanC = 17;
    try (IsaCap cap = new IsaCap(isa);
        TensorScope t = new TensorScope()) {
      for (Layout layout : Layout.values()) {
        float[] xs = TestData.normal(500, n * c * s, 0, 1);
        int nanIndex = (nanN * c + nanC) * s + 4;
        xs[nanIndex] = Float.NaN;
        Tensor x = t.of(xs, shape, layout);
        Tensor dy = t.of(TestData.normal(501, n * c * s, 0, 1), shape, layout);
        Tensor gamma = t.vector(TestData.normal(502, c, 1, 0.5));
        Tensor beta = t.vector(TestData.normal(503, c, 0, 0.5));
        Tensor y = t.zeros(shape, layout), dx = t.zeros(shape, layout);
        Tensor mean = t.zeros(Shape.of(n, c)), var = t.zeros(Shape.of(n, c));
        Tensor dgamma = t.zeros(Shape.of(c)), dbeta = t.zeros(Shape.of(c));
        Functional.instanceNorm(Backend.NATIVE, x, null, null, gamma, beta, true, MOMENTUM, EPS, y, mean, var);
        Functional.instanceNormBackward(Backend.NATIVE, x, dy, gamma, mean, var, true, EPS, dx, dgamma, dbeta);
        float[] ya = y.toArray(), dxa = dx.toArray(), ma = mean.toArray(), va = var.toArray();
        for (int in = 0; in < n; in++) {
          for (int ic = 0; ic < c; ic++) {
            boolean nanSet = in == nanN && ic == nanC;
            String where = isa + " " + layout + " set (" + in + ", " + ic + ")";
            assertEquals(nanSet, Float.isNaN(ma[in * c + ic]), "mean " + where);
            assertEquals(nanSet, Float.isNaN(va[in * c + ic]), "var " + where);
            for (int is = 0; is < s; is++) {
              int i = (in * c + ic) * s + is;
              assertEquals(nanSet, Float.isNaN(ya[i]), "y " + where);
              assertEquals(nanSet, Float.isNaN(dxa[i]), "dx " + where);
            }
          }
        }
        for (int ic = 0; ic < c; ic++) {
          assertEquals(ic == nanC, Float.isNaN(dgamma.toArray()[ic]), "dgamma " + ic + " " + isa + " " + layout);
          assertFalse(Float.isNaN(dbeta.toArray()[ic]), "dbeta (sum of dy only) " + ic + " " + isa + " " + layout);
        }
        // with running statistics a NaN stays where it is
        Tensor rm = t.vector(new float[c]), rv = t.vector(TestData.uniform(504, c, 0.5, 2));
        Functional.instanceNorm(Backend.NATIVE, x, rm, rv, gamma, beta, false, MOMENTUM, EPS, y, null, null);
        float[] eval = y.toArray();
        for (int i = 0; i < eval.length; i++) assertEquals(i == nanIndex, Float.isNaN(eval[i]), "eval y " + i);
      }
    }
  }

  /**
   * Running statistics after an empty training input, as PyTorch 1.13's {@code F.instance_norm} leaves them (running
   * mean 0.5, variance 2 before): input (0, 3, 4), no instances, gives NaN; input (2, 3, 0), instances without
   * values, leaves them unchanged (normkit used to give NaN there too).
   */
  @Test
  void emptyInputsUpdateRunningStatisticsAsPyTorch() {
    for (Backend backend : Backend.values()) {
      for (Shape shape : List.of(Shape.of(0, 3, 4), Shape.of(2, 3, 0))) {
        try (Tensor x = Tensor.zeros(shape); Tensor y = Tensor.zeros(shape);
            Tensor mean = Tensor.vector(0.5f, 0.5f, 0.5f); Tensor var = Tensor.vector(2f, 2f, 2f)) {
          Functional.instanceNorm(backend, x, mean, var, null, null, true, 0.1, 1e-5, y, null, null);
          float[] nan = {Float.NaN, Float.NaN, Float.NaN};
          float[] expectedMean = shape.batch() == 0 ? nan : new float[] {0.5f, 0.5f, 0.5f};
          float[] expectedVar = shape.batch() == 0 ? nan : new float[] {2f, 2f, 2f};
          assertArrayEquals(expectedMean, mean.toArray(), backend + " " + shape);
          assertArrayEquals(expectedVar, var.toArray(), backend + " " + shape);
        }
      }
    }
  }

  // -------------------------------------------------------------------------------- finite differences

  /**
   * The reference's training backward against central differences of its forward, all in double, for L = sum(y *
   * dy). Step h = 1e-6: truncation error ~ h^2 * |L'''| ~ 1e-12 and cancellation error ~ 1e-16 * |L| / h ~ 1e-9,
   * so 1e-6 of the gradients' scale is a safe bound that still catches any wrong term (those are O(1)).
   */
  @Test
  void referenceGradientsMatchFiniteDifferences() {
    for (Shape shape : List.of(Shape.of(2, 3, 5), Shape.of(1, 2, 2, 3), Shape.of(3, 1, 4))) {
      int count = Math.toIntExact(shape.elementCount());
      int c = Math.toIntExact(shape.channels());
      double[] x = FiniteDifferences.doubles(TestData.normal(600 + count, count, 0.3, 1.5));
      double[] dy = FiniteDifferences.doubles(TestData.normal(601 + count, count, 0, 1));
      double[] gamma = FiniteDifferences.doubles(TestData.normal(602 + count, c, 1, 0.5));
      double[] beta = FiniteDifferences.doubles(TestData.normal(603 + count, c, 0, 0.5));
      double[][] analytic = ReferenceInstanceNorm.backwardTraining(x, dy, shape, gamma, EPS);
      double[][] numeric = {
        FiniteDifferences.gradient(x, v -> FiniteDifferences.dot(ReferenceInstanceNorm.forwardTraining(v, shape, gamma, beta, EPS), dy)),
        FiniteDifferences.gradient(gamma, v -> FiniteDifferences.dot(ReferenceInstanceNorm.forwardTraining(x, shape, v, beta, EPS), dy)),
        FiniteDifferences.gradient(beta, v -> FiniteDifferences.dot(ReferenceInstanceNorm.forwardTraining(x, shape, gamma, v, EPS), dy))
      };
      String[] names = {"dx", "dgamma", "dbeta"};
      for (int i = 0; i < 3; i++) {
        FiniteDifferences.assertClose(names[i] + " " + shape, analytic[i], numeric[i], 1e-6);
      }
    }
  }

  // --------------------------------------------------------------------------------------------- C ABI

  /** Every entry point re-checks its arguments and answers NK_INVALID_ARGUMENTS without touching memory. */
  @Test
  void abiRejectsBadArguments() {
    int invalid = NormkitLibrary.NK_INVALID_ARGUMENTS;
    int cf = NormkitLibrary.NK_LAYOUT_CHANNELS_FIRST;
    try (FloatPointer a = new FloatPointer(64);
        FloatPointer b = new FloatPointer(64);
        FloatPointer m = new FloatPointer(64);
        FloatPointer v = new FloatPointer(64)) {
      assertEquals(0, NormkitLibrary.nk_instance_norm_forward_training(a, b, null, null, m, v, 2, 2, 4, cf, EPS));
      assertEquals(invalid, NormkitLibrary.nk_instance_norm_forward_training(null, b, null, null, m, v, 2, 2, 4, cf, EPS));
      assertEquals(invalid, NormkitLibrary.nk_instance_norm_forward_training(a, b, null, null, null, v, 2, 2, 4, cf, EPS));
      assertEquals(invalid, NormkitLibrary.nk_instance_norm_forward_training(a, b, null, null, m, v, -1, 2, 4, cf, EPS));
      assertEquals(invalid, NormkitLibrary.nk_instance_norm_forward_training(a, b, null, null, m, v, 2, 2, 4, 7, EPS));
      assertEquals(invalid, NormkitLibrary.nk_instance_norm_forward_training(a, b, null, null, m, v, 2, 2, 4, cf, 0));
      assertEquals(invalid, NormkitLibrary.nk_instance_norm_forward_training(a, b, null, null, m, v, 2, 2, 4, cf, Double.NaN));
      assertEquals(invalid,
          NormkitLibrary.nk_instance_norm_forward_training(a, b, null, null, m, v, Long.MAX_VALUE / 2, 4, 1, cf, EPS),
          "element count overflow");
      // an empty tensor is a no-op, even with null pointers
      assertEquals(0, NormkitLibrary.nk_instance_norm_forward_training(null, null, null, null, null, null, 0, 3, 4, cf, EPS));
      assertEquals(invalid, NormkitLibrary.nk_instance_norm_forward_inference(a, b, null, null, null, v, 2, 2, 4, cf, EPS));
      assertEquals(invalid, NormkitLibrary.nk_instance_norm_backward(a, null, null, m, v, b, null, null, 2, 2, 4, cf, EPS));
      assertEquals(invalid, NormkitLibrary.nk_instance_norm_backward(a, a, null, m, v, null, null, null, 2, 2, 4, cf, EPS));
      assertEquals(invalid,
          NormkitLibrary.nk_instance_norm_backward_running_stats(a, a, null, m, null, b, null, null, 2, 2, 4, cf, EPS));
    }
    NativeException e = assertThrows(NativeException.class, () -> NormkitKernels.check(invalid, "test"));
    assertEquals("normkit", e.library());
    assertEquals(invalid, e.status());
    assertTrue(e.getMessage().contains("invalid arguments"), e.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void isaCapTakesEffect(Isa isa) {
    Isa before = NormkitKernels.isa();
    try (IsaCap cap = new IsaCap(isa)) {
      assertEquals(isa, NormkitKernels.isa());
    }
    assertEquals(before, NormkitKernels.isa());
  }

  // ------------------------------------------------------------------------------------------- helpers

  /** Asserts an elementwise output (index 0 native, 1 reference) and records its error. */
  private static void elementwise(Isa isa, String what, String where, Tensor[] pair) {
    float[] actual = pair[0].toArray(), expected = pair[1].toArray();
    ERRORS.record(isa + " " + what, actual, expected);
    Close.assertClose(what + " " + where, actual, expected, ELEMENTWISE_ATOL, 0);
  }

  /**
   * Asserts dx (index 0 native, 1 reference) against {@code scale}, the size of its largest term, rather than its
   * own magnitude: dx cancels to near zero in small sets (exactly zero for S = 2), leaving rounding noise of the
   * terms.
   */
  private static void gradient(Isa isa, String what, String where, Tensor[] pair, double scale) {
    float[] actual = pair[0].toArray(), expected = pair[1].toArray();
    ERRORS.record(isa + " " + what, actual, expected, scale);
    Close.assertWithin(what + " " + where, actual, expected, ELEMENTWISE_ATOL * scale, 0);
  }

  /** max |dy| * max |gamma| * max rstd: the scale of dx's terms (dx = dy * gamma * rstd - ...). */
  private static double gradientScale(Tensor dy, Tensor gamma, Tensor var) {
    double minVar = Double.MAX_VALUE;
    for (float v : var.toArray()) minVar = Math.min(minVar, v);
    return Close.maxAbs(dy.toArray()) * (gamma == null ? 1 : Close.maxAbs(gamma.toArray())) / Math.sqrt(minVar + EPS);
  }

  /** Asserts a statistic or a parameter gradient (index 0 native, 1 reference) and records its error. */
  private static void statistic(Isa isa, String what, String where, Tensor[] pair) {
    float[] actual = pair[0].toArray(), expected = pair[1].toArray();
    ERRORS.record(isa + " " + what, actual, expected);
    Close.assertClose(what + " " + where, actual, expected, STATISTIC_ATOL, STATISTIC_RTOL);
  }

  private static float[] toFloats(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
    return f;
  }
}
