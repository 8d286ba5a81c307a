package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.normkit.backend.kernels.NormkitKernels.Isa;
import dev.normkit.backend.kernels.NormkitLibrary;
import dev.normkit.backend.reference.ReferenceWeightStandardization;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * normkit's weight-standardization kernels ({@link Backend#NATIVE}) against the double-precision reference
 * ({@link Backend#JAVA}), through {@link Functional}'s full forms, for every variant and under every ISA the CPU
 * supports; and the reference against finite differences.
 *
 * <p>Tolerances (measured worst cases over all cases and ISAs, printed with {@code -Dnormkit.errors}, quoted):
 *
 * <ul>
 *   <li>mean, rstd, dgain: accumulated in double like the reference, one float rounding of the same double value
 *       (up to double rounding): rtol 1 ulp (2^-23), atol 1e-9 of the tensor's scale for a mean or dgain that
 *       cancels to near zero. Measured: 0 (bitwise equal).
 *   <li>wHat = (w - m) * scale + shift and dw = a * dwHat + b * (w - mean) + c, in float from coefficients rounded
 *       to float: a few half-ulp roundings of terms no larger than a few times the output's scale: atol 1e-6 (8
 *       ulp) of that scale, max|wHat| for wHat and the size of dw's terms, f * max rstd * max|dwHat|, for dw (dw
 *       cancels). Measured: wHat 1.3e-7, dw 1.3e-7 (about 1.1 ulp).
 * </ul>
 */
class WeightStandardizationKernelTest {
  private static final double ELEMENTWISE_ATOL = 1e-6;
  private static final double STATISTIC_RTOL = 0x1p-23;
  private static final double STATISTIC_ATOL = 1e-9;
  private static final double GAMMA = 1.7;

  /** Weights (O, ...): K = 2, 3, 27, 49, 144, 175 and 4608 ((64, 512, 3, 3)); O = 1 and odd O. */
  private static final List<Shape> SHAPES = List.of(
      Shape.of(3, 2),
      Shape.of(4, 2, 1, 1),
      Shape.of(5, 3, 1, 1),
      Shape.of(8, 3, 3, 3),
      Shape.of(1, 1, 7, 7),
      Shape.of(17, 16, 3, 3),
      Shape.of(33, 7, 5, 5),
      Shape.of(64, 512, 3, 3));

  /** A case: a variant, whether SCALED gets a (non-trivial) gain tensor, and the conv-like weight's mean. */
  private enum Case {
    SEED(WsVariant.SEED, false),
    BATCH_NORM_STYLE(WsVariant.BATCH_NORM_STYLE, false),
    SCALED_WITH_GAIN(WsVariant.SCALED, true),
    SCALED_UNIT_GAIN(WsVariant.SCALED, false);

    final WsVariant variant;
    final boolean gain;

    Case(WsVariant variant, boolean gain) {
      this.variant = variant;
      this.gain = gain;
    }
  }

  private static final MaxErrors ERRORS = new MaxErrors("weight standardization, native vs reference");

  static List<Isa> isas() {
    return IsaCap.supported();
  }

  @AfterAll
  static void report() {
    ERRORS.print();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void forwardAndBackwardMatchReference(Isa isa) {
    try (IsaCap cap = new IsaCap(isa)) {
      long seed = 1000;
      for (Shape shape : SHAPES) {
        // the layouts differ only for rank > 2 (memory order (O, kH, kW, I)); the largest weight runs in one
        List<Layout> layouts = shape.rank() > 2 && shape.elementCount() < 100_000
            ? List.of(Layout.CHANNELS_FIRST, Layout.CHANNELS_LAST)
            : List.of(Layout.CHANNELS_LAST);
        for (Layout layout : layouts) {
          for (Case c : Case.values()) check(isa, shape, layout, c, seed++);
        }
      }
    }
  }

  private static void check(Isa isa, Shape shape, Layout layout, Case c, long seed) {
    String where = isa + " " + shape + " " + layout + " " + c + " seed " + seed;
    int count = Math.toIntExact(shape.elementCount());
    int o = Math.toIntExact(shape.dim(0));
    Shape perFilter = Shape.of(o);
    double eps = c.variant.defaultEps();
    boolean scaled = c.variant == WsVariant.SCALED;
    try (TensorScope t = new TensorScope()) {
      // a conv weight's typical size, off-centre so that the mean matters
      Tensor w = t.of(TestData.normal(seed, count, 0.02, 0.05), shape, layout);
      Tensor dwHat = t.of(TestData.normal(seed + 1, count, 0, 1), shape, layout);
      Tensor gain = c.gain ? t.vector(TestData.normal(seed + 2, o, 1, 0.3)) : null;
      Tensor[] wHat = {t.zeros(shape, layout), t.zeros(shape, layout)};
      Tensor[] mean = {t.zeros(perFilter), t.zeros(perFilter)};
      Tensor[] rstd = {t.zeros(perFilter), t.zeros(perFilter)};
      Tensor[] dw = {t.zeros(shape, layout), t.zeros(shape, layout)};
      Tensor[] dgain = {t.zeros(perFilter, Layout.CHANNELS_FIRST, scaled), t.zeros(perFilter, Layout.CHANNELS_FIRST, scaled)};
      Backend[] backends = {Backend.NATIVE, Backend.JAVA};
      for (int b = 0; b < 2; b++) {
        Functional.weightStandardize(backends[b], w, c.variant, eps, GAMMA, gain, wHat[b], mean[b], rstd[b]);
      }
      // both backward passes start from the reference's statistics, so that each kernel is compared on its own
      for (int b = 0; b < 2; b++) {
        Functional.weightStandardizeBackward(
            backends[b], w, dwHat, c.variant, eps, GAMMA, gain, mean[1], rstd[1], dw[b], dgain[b]);
      }
      statistic(isa, "mean", where, mean);
      statistic(isa, "rstd", where, rstd);
      output(isa, "wHat " + c.variant, where, wHat, Close.maxAbs(wHat[1].toArray()));
      double factor = scaled ? (c.gain ? Close.maxAbs(gain.toArray()) : 1) * GAMMA / Math.sqrt(count / (double) o) : 1;
      output(isa, "dw " + c.variant, where, dw, factor * Close.maxAbs(rstd[1].toArray()) * Close.maxAbs(dwHat.toArray()));
      if (scaled) statistic(isa, "dgain", where, dgain);
    }
  }

  // ---------------------------------------------------------------------------------------------- NaN

  /** One NaN in a filter makes that filter's outputs NaN and no other's. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void nanPropagatesWithinItsFilter(Isa isa) {
    Shape shape = Shape.of(6, 4, 3, 3);
    int o = 6, k = 36, nanFilter = 4;
    try (IsaCap cap = new IsaCap(isa);
        TensorScope t = new TensorScope()) {
      for (WsVariant variant : WsVariant.values()) {
        float[] ws = TestData.normal(1100, o * k, 0, 0.1);
        ws[nanFilter * k + 7] = Float.NaN;
        Tensor w = t.of(ws, shape, Layout.CHANNELS_FIRST);
        Tensor wHat = t.zeros(shape), mean = t.zeros(Shape.of(o)), rstd = t.zeros(Shape.of(o));
        Functional.weightStandardize(
            Backend.NATIVE, w, variant, variant.defaultEps(), GAMMA, null, wHat, mean, rstd);
        float[] wh = wHat.toArray();
        for (int f = 0; f < o; f++) {
          String where = isa + " " + variant + " filter " + f;
          assertEquals(f == nanFilter, Float.isNaN(mean.toArray()[f]), "mean " + where);
          assertEquals(f == nanFilter, Float.isNaN(rstd.toArray()[f]), "rstd " + where);
          for (int i = 0; i < k; i++) assertEquals(f == nanFilter, Float.isNaN(wh[f * k + i]), "wHat " + where);
        }
      }
    }
  }

  // -------------------------------------------------------------------------------- finite differences

  /**
   * The reference's backward (dw and, for SCALED, dgain) against central differences of its forward, all in
   * double, for L = sum(wHat * dwHat). Step 1e-6 on weights of size ~0.1: truncation ~ h^2 * |L'''| and
   * cancellation ~ 1e-16 * |L| / h both stay below 1e-8 of the gradients' scale; 1e-6 still catches any wrong term.
   */
  @Test
  void referenceGradientsMatchFiniteDifferences() {
    int o = 3;
    for (int k : new int[] {2, 6, 25}) {
      double[] w = FiniteDifferences.doubles(TestData.normal(1200 + k, o * k, 0.05, 0.1));
      double[] dwHat = FiniteDifferences.doubles(TestData.normal(1201 + k, o * k, 0, 1));
      double[] gain = FiniteDifferences.doubles(TestData.normal(1202 + k, o, 1, 0.3));
      for (WsVariant variant : WsVariant.values()) {
        double eps = variant.defaultEps();
        double[] g = variant == WsVariant.SCALED ? gain : null;
        ReferenceWeightStandardization.Forward f =
            ReferenceWeightStandardization.forward(w, o, variant, eps, GAMMA, g);
        ReferenceWeightStandardization.Backward analytic =
            ReferenceWeightStandardization.backward(w, dwHat, o, variant, eps, GAMMA, g, f.mean, f.rstd);
        double[] numeric = FiniteDifferences.gradient(
            w, v -> FiniteDifferences.dot(ReferenceWeightStandardization.forward(v, o, variant, eps, GAMMA, g).wHat, dwHat));
        FiniteDifferences.assertClose("dw " + variant + " K " + k, analytic.dw, numeric, 1e-6);
        if (variant == WsVariant.SCALED) {
          double[] numericGain = FiniteDifferences.gradient(
              gain, v -> FiniteDifferences.dot(ReferenceWeightStandardization.forward(w, o, variant, eps, GAMMA, v).wHat, dwHat));
          FiniteDifferences.assertClose("dgain K " + k, analytic.dgain, numericGain, 1e-6);
        }
      }
    }
  }

  /** A constant filter has sigma = 0: SEED's std term is then 0 (PyTorch masks it so), not 0 / 0. */
  @Test
  void constantFilterHasFiniteGradient() {
    double[] w = {0.5, 0.5, 0.5, 0.5};
    double[] dwHat = {1, -2, 0.5, 3};
    ReferenceWeightStandardization.Forward f = ReferenceWeightStandardization.forward(w, 1, WsVariant.SEED, 1e-5, 1, null);
    double[] dw = ReferenceWeightStandardization.backward(w, dwHat, 1, WsVariant.SEED, 1e-5, 1, null, f.mean, f.rstd).dw;
    double meanDwHat = 0.625;
    for (int i = 0; i < 4; i++) assertEquals(1e5 * (dwHat[i] - meanDwHat), dw[i], 1e-6, "dw " + i);
    try (TensorScope t = new TensorScope()) {
      Shape shape = Shape.of(1, 4);
      Tensor wt = t.of(new float[] {0.5f, 0.5f, 0.5f, 0.5f}, shape, Layout.CHANNELS_FIRST);
      Tensor dwHatT = t.of(new float[] {1, -2, 0.5f, 3}, shape, Layout.CHANNELS_FIRST);
      Tensor wHat = t.zeros(shape), mean = t.zeros(Shape.of(1)), rstd = t.zeros(Shape.of(1)), dwT = t.zeros(shape);
      Functional.weightStandardize(Backend.NATIVE, wt, WsVariant.SEED, 1e-5, 1, null, wHat, mean, rstd);
      Functional.weightStandardizeBackward(
          Backend.NATIVE, wt, dwHatT, WsVariant.SEED, 1e-5, 1, null, mean, rstd, dwT, null);
      float[] native_ = dwT.toArray();
      for (int i = 0; i < 4; i++) assertEquals(1e5 * (dwHat[i] - meanDwHat), native_[i], 1e5 * 1e-6, "native dw " + i);
    }
  }

  // --------------------------------------------------------------------------------------------- C ABI

  /** Every entry point re-checks its arguments and answers NK_INVALID_ARGUMENTS without touching memory. */
  @Test
  void abiRejectsBadArguments() {
    int invalid = NormkitLibrary.NK_INVALID_ARGUMENTS;
    int seed = NormkitLibrary.NK_WS_SEED, bn = NormkitLibrary.NK_WS_BATCH_NORM_STYLE;
    int scaled = NormkitLibrary.NK_WS_SCALED;
    try (FloatPointer a = new FloatPointer(64);
        FloatPointer b = new FloatPointer(64);
        FloatPointer m = new FloatPointer(64);
        FloatPointer r = new FloatPointer(64)) {
      assertEquals(0, NormkitLibrary.nk_weight_standardization_forward(a, b, m, r, null, 4, 8, seed, 1e-5, 1));
      assertEquals(invalid, NormkitLibrary.nk_weight_standardization_forward(null, b, m, r, null, 4, 8, seed, 1e-5, 1));
      assertEquals(invalid, NormkitLibrary.nk_weight_standardization_forward(a, b, null, r, null, 4, 8, seed, 1e-5, 1));
      assertEquals(invalid, NormkitLibrary.nk_weight_standardization_forward(a, b, m, r, null, -4, 8, seed, 1e-5, 1));
      assertEquals(invalid, NormkitLibrary.nk_weight_standardization_forward(a, b, m, r, null, 4, 8, 9, 1e-5, 1));
      assertEquals(invalid, NormkitLibrary.nk_weight_standardization_forward(a, b, m, r, null, 4, 8, bn, -1, 1));
      assertEquals(invalid,
          NormkitLibrary.nk_weight_standardization_forward(a, b, m, r, null, 4, 8, scaled, 1e-6, Double.NaN));
      assertEquals(invalid, NormkitLibrary.nk_weight_standardization_forward(a, b, m, r, null, 64, 1, seed, 1e-5, 1),
          "SEED needs K >= 2");
      assertEquals(invalid, NormkitLibrary.nk_weight_standardization_forward(a, b, m, r, a, 4, 8, bn, 1e-6, 1),
          "gain is for SCALED only");
      assertEquals(0, NormkitLibrary.nk_weight_standardization_forward(null, null, null, null, null, 0, 8, seed, 1e-5, 1));
      assertEquals(invalid,
          NormkitLibrary.nk_weight_standardization_backward(a, null, null, m, r, b, null, 4, 8, seed, 1e-5, 1));
      assertEquals(invalid,
          NormkitLibrary.nk_weight_standardization_backward(a, a, null, m, r, b, b, 4, 8, seed, 1e-5, 1),
          "dgain is for SCALED only");
      assertEquals(invalid,
          NormkitLibrary.nk_weight_standardization_backward(a, a, null, m, null, b, null, 4, 8, scaled, 1e-6, 1));
    }
  }

  // ------------------------------------------------------------------------------------------- helpers

  /** An elementwise output (index 0 native, 1 reference) within ELEMENTWISE_ATOL of {@code scale}. */
  private static void output(Isa isa, String what, String where, Tensor[] pair, double scale) {
    float[] actual = pair[0].toArray(), expected = pair[1].toArray();
    ERRORS.record(isa + " " + what, actual, expected, scale);
    Close.assertWithin(what + " " + where, actual, expected, ELEMENTWISE_ATOL * scale, 0);
  }

  private static void statistic(Isa isa, String what, String where, Tensor[] pair) {
    float[] actual = pair[0].toArray(), expected = pair[1].toArray();
    ERRORS.record(isa + " " + what, actual, expected);
    Close.assertClose(what + " " + where, actual, expected, STATISTIC_ATOL, STATISTIC_RTOL);
  }
}
