package dev.normkit;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Layer norm: oneDNN against the double-precision reference over one to all trailing dims, in both layouts (which
 * exercises all three ways DnnlLayerNorm maps memory onto rows: contiguous, channels-last rows with permuted
 * parameters, reordered), every output compared element by element against its float32 bound ({@link NormBounds}).
 */
class LayerNormKernelTest {
  private static final double EPS = 1e-5;

  // Bounds in units of u * magnitude (NormBounds). -Dnormkit.printErrors=true prints the measured worst k per output;
  // over the cases below (rows of 1 to 240 values) it was: y 1.8, mean 2.0, var 3.4, dx 1.3, dgamma 1.7, dbeta 1.8.
  // The bounds leave about twice that.
  private static final double K_Y = 4;
  private static final double K_MEAN = 4;
  private static final double K_VAR = 8;
  private static final double K_DX = 3;
  private static final double K_PARAM_GRAD = 4;

  /** (shape, normalized dims): one and several trailing dims, all dims, odd sizes, ranks 2 to 5. */
  static List<Arguments> cases() {
    List<Arguments> cases = new ArrayList<>();
    add(cases, Shape.of(4, 10), 1, 2);
    add(cases, Shape.of(1, 17), 2);
    add(cases, Shape.of(3, 17, 5), 1, 2, 3);
    add(cases, Shape.of(2, 1, 7), 1, 2);
    add(cases, Shape.of(2, 3, 4, 5), 1, 2, 3, 4);
    add(cases, Shape.of(1, 33, 3, 3), 1, 3);
    add(cases, Shape.of(2, 16, 1, 1), 1, 3);
    add(cases, Shape.of(2, 4, 3, 2, 5), 1, 3, 4, 5);
    return cases;
  }

  private static void add(List<Arguments> cases, Shape shape, int... normalizedDims) {
    for (int k : normalizedDims) {
      for (NormCase c : NormCase.expand(List.of(shape), 2000L + 100L * cases.size() + 10L * k)) {
        cases.add(Arguments.of(c, k));
      }
    }
  }

  /** Rows of a power-of-two number of values: exact inputs have exact statistics. */
  static List<Arguments> exactStatisticsCases() {
    List<Arguments> cases = new ArrayList<>();
    add(cases, Shape.of(4, 16), 1);
    add(cases, Shape.of(2, 3, 8), 1);
    add(cases, Shape.of(2, 4, 2, 2), 1, 3);
    add(cases, Shape.of(1, 2, 2, 2, 4), 2, 4);
    return cases.stream().filter(a -> ((NormCase) a.get()[0]).exact() && !((NormCase) a.get()[0]).affine()).toList();
  }

  @AfterAll
  static void printErrors() {
    BackendPair.printWorst("LN");
  }

  @ParameterizedTest(name = "{0} normalized dims {1}")
  @MethodSource("cases")
  void forwardMatchesReference(NormCase c, int normalizedDims) {
    Shape normalized = c.shape().trailing(normalizedDims);
    Shape stats = Functional.layerNormStatisticsShape(c.shape(), normalized);
    String detail = c + " normalized " + normalized;
    try (Tensor x = c.x();
        Tensor g = c.gamma(normalized);
        Tensor b = c.beta(normalized);
        BackendPair y = BackendPair.of(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(stats);
        BackendPair var = BackendPair.of(stats)) {
      for (Backend backend : Backend.values()) {
        Functional.layerNorm(backend, x, normalized, g, b, EPS, y.get(backend), mean.get(backend), var.get(backend));
      }
      NormBounds bounds =
          NormBounds.layerNorm(x, normalizedDims, null, g, b, mean.get(Backend.JAVA), var.get(Backend.JAVA), EPS);
      y.assertWithin("LN y", detail, bounds.y(), K_Y);
      mean.assertWithin("LN mean", detail, bounds.mean(), K_MEAN);
      var.assertWithin("LN var", detail, bounds.variance(), K_VAR);
    }
  }

  /** From the reference's saved statistics, every combination of wanted parameter gradients. */
  @ParameterizedTest(name = "{0} normalized dims {1}")
  @MethodSource("cases")
  void backwardMatchesReference(NormCase c, int normalizedDims) {
    Shape normalized = c.shape().trailing(normalizedDims);
    Shape stats = Functional.layerNormStatisticsShape(c.shape(), normalized);
    try (Tensor x = c.x();
        Tensor dy = c.dy();
        Tensor g = c.gamma(normalized);
        Tensor b = c.beta(normalized);
        Tensor y = Tensor.empty(c.shape(), c.layout());
        Tensor mean = Tensor.empty(stats, Layout.CHANNELS_FIRST);
        Tensor var = Tensor.empty(stats, Layout.CHANNELS_FIRST)) {
      Functional.layerNorm(Backend.JAVA, x, normalized, g, b, EPS, y, mean, var);
      NormBounds bounds = NormBounds.layerNorm(x, normalizedDims, dy, g, b, mean, var, EPS);
      for (boolean[] want : c.parameterGradients()) {
        String detail = c + " normalized " + normalized + " dgamma " + want[0] + " dbeta " + want[1];
        try (BackendPair dx = BackendPair.of(c.shape(), c.layout());
            BackendPair dg = BackendPair.optional(want[0], normalized);
            BackendPair db = BackendPair.optional(want[1], normalized)) {
          for (Backend backend : Backend.values()) {
            Functional.layerNormBackward(backend, x, dy, normalized, g, mean, var, EPS, dx.get(backend),
                BackendPair.get(dg, backend), BackendPair.get(db, backend));
          }
          dx.assertWithin("LN dx", detail, bounds.dxTraining(), K_DX);
          BackendPair.assertWithin(dg, "LN dgamma", detail, bounds.dgamma(), K_PARAM_GRAD);
          BackendPair.assertWithin(db, "LN dbeta", detail, bounds.dbeta(), K_PARAM_GRAD);
        }
      }
    }
  }

  /** Exact inputs (multiples of 0.25) over power-of-two rows: mean and var must match bit for bit. */
  @ParameterizedTest(name = "{0} normalized dims {1}")
  @MethodSource("exactStatisticsCases")
  void exactInputsGiveExactStatistics(NormCase c, int normalizedDims) {
    Shape normalized = c.shape().trailing(normalizedDims);
    Shape stats = Functional.layerNormStatisticsShape(c.shape(), normalized);
    try (Tensor x = c.x();
        Tensor y = Tensor.empty(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(stats);
        BackendPair var = BackendPair.of(stats)) {
      for (Backend backend : Backend.values()) {
        Functional.layerNorm(backend, x, normalized, null, null, EPS, y, mean.get(backend), var.get(backend));
      }
      mean.assertClose("LN exact mean", c + " normalized " + normalized, 0);
      var.assertClose("LN exact var", c + " normalized " + normalized, 0);
    }
  }
}
