package dev.normkit;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Batch norm: oneDNN against the double-precision reference, forward (training, inference) and backward in both
 * modes, every output compared element by element against its float32 error bound {@link NormBounds} (k * u * the
 * magnitude of the terms it is made of).
 */
class BatchNormKernelTest {
  private static final double EPS = 1e-5;
  private static final double MOMENTUM = 0.1;

  // Bounds in units of u * magnitude (NormBounds). -Dnormkit.printErrors=true prints the measured worst k per output;
  // over the 96 cases below (sets of 2 to 120 values) it was: y 2.2, inference y 1.9, mean 2.8, var 5.6,
  // dx training 1.4, dx eval 3.5, dgamma 0.9, dbeta 1.4. The bounds leave about twice that: a normalized value is a
  // handful of roundings, a sum over n values a few more as n grows.
  private static final double K_Y = 5;
  private static final double K_MEAN = 6;
  private static final double K_VAR = 12;
  private static final double K_DX = 8;
  private static final double K_PARAM_GRAD = 4;

  /** Shapes (N, C, *spatial) with N * spatial > 1, as training needs; odd C, N = 1, spatial 1, ranks 2 to 5. */
  static List<NormCase> cases() {
    return NormCase.expand(
        List.of(
            Shape.of(2, 3),
            Shape.of(8, 17),
            Shape.of(1, 3, 7),
            Shape.of(3, 33, 5),
            Shape.of(2, 1, 4, 4),
            Shape.of(2, 16, 1, 1),
            Shape.of(4, 3, 5, 5),
            Shape.of(2, 17, 3, 7),
            Shape.of(1, 33, 8, 8),
            Shape.of(3, 64, 4, 4),
            Shape.of(2, 5, 3, 4, 5),
            Shape.of(1, 3, 2, 2, 4)),
        1000);
  }

  /** Shapes whose channels hold a power-of-two number of values: exact inputs have exact statistics. */
  static List<NormCase> exactStatisticsCases() {
    return NormCase.expand(
            List.of(Shape.of(8, 5), Shape.of(2, 17, 2, 4), Shape.of(4, 3, 4, 4), Shape.of(2, 3, 2, 2, 4)), 1500)
        .stream()
        .filter(c -> c.exact() && !c.affine())
        .toList();
  }

  @AfterAll
  static void printErrors() {
    BackendPair.printWorst("BN");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void trainingForwardMatchesReference(NormCase c) {
    Shape perChannel = Shape.of(c.shape().channels());
    try (Tensor x = c.x();
        Tensor g = c.gamma(perChannel);
        Tensor b = c.beta(perChannel);
        BackendPair y = BackendPair.of(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(perChannel);
        BackendPair var = BackendPair.of(perChannel)) {
      for (Backend backend : Backend.values()) {
        Functional.batchNorm(backend, x, null, null, g, b, true, MOMENTUM, EPS, y.get(backend), mean.get(backend),
            var.get(backend));
      }
      NormBounds bounds = NormBounds.batchNorm(x, null, g, b, mean.get(Backend.JAVA), var.get(Backend.JAVA), EPS, true);
      y.assertWithin("BN y", c.toString(), bounds.y(), K_Y);
      mean.assertWithin("BN mean", c.toString(), bounds.mean(), K_MEAN);
      var.assertWithin("BN var", c.toString(), bounds.variance(), K_VAR);
    }
  }

  /**
   * benchdnn's exact inputs (multiples of 0.25) over a power-of-two number of values per channel: the sums, the
   * mean, the deviations and their squares are all exact in float32, so mean and var must match bit for bit.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("exactStatisticsCases")
  void exactInputsGiveExactStatistics(NormCase c) {
    Shape perChannel = Shape.of(c.shape().channels());
    try (Tensor x = c.x();
        Tensor y = Tensor.empty(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(perChannel);
        BackendPair var = BackendPair.of(perChannel)) {
      for (Backend backend : Backend.values()) {
        Functional.batchNorm(backend, x, null, null, null, null, true, MOMENTUM, EPS, y, mean.get(backend),
            var.get(backend));
      }
      mean.assertClose("BN exact mean", c.toString(), 0);
      var.assertClose("BN exact var", c.toString(), 0);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void inferenceForwardMatchesReference(NormCase c) {
    Shape perChannel = Shape.of(c.shape().channels());
    int channels = (int) perChannel.elementCount();
    try (Tensor x = c.x();
        Tensor g = c.gamma(perChannel);
        Tensor b = c.beta(perChannel);
        Tensor runningMean = Tensor.of(TestData.normal(c.seed() + 4, channels, 0, 1), perChannel);
        Tensor runningVar = Tensor.of(TestData.uniform(c.seed() + 5, channels, 0.5, 2), perChannel);
        BackendPair y = BackendPair.of(c.shape(), c.layout())) {
      for (Backend backend : Backend.values()) {
        Functional.batchNorm(backend, x, runningMean, runningVar, g, b, false, MOMENTUM, EPS, y.get(backend), null,
            null);
      }
      NormBounds bounds = NormBounds.batchNorm(x, null, g, b, runningMean, runningVar, EPS, false);
      y.assertWithin("BN inference y", c.toString(), bounds.y(), K_Y);
    }
  }

  /**
   * Both modes from the same statistics: the reference's batch statistics (training), running ones (eval); every
   * combination of wanted parameter gradients.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void backwardMatchesReference(NormCase c) {
    Shape perChannel = Shape.of(c.shape().channels());
    int channels = (int) perChannel.elementCount();
    try (Tensor x = c.x();
        Tensor dy = c.dy();
        Tensor g = c.gamma(perChannel);
        Tensor b = c.beta(perChannel);
        Tensor y = Tensor.empty(c.shape(), c.layout());
        Tensor batchMean = Tensor.empty(perChannel, Layout.CHANNELS_FIRST);
        Tensor batchVar = Tensor.empty(perChannel, Layout.CHANNELS_FIRST);
        Tensor runningMean = Tensor.of(TestData.normal(c.seed() + 4, channels, 0, 1), perChannel);
        Tensor runningVar = Tensor.of(TestData.uniform(c.seed() + 5, channels, 0.5, 2), perChannel)) {
      Functional.batchNorm(Backend.JAVA, x, null, null, g, b, true, MOMENTUM, EPS, y, batchMean, batchVar);
      for (boolean training : new boolean[] {true, false}) {
        Tensor mean = training ? batchMean : runningMean;
        Tensor var = training ? batchVar : runningVar;
        NormBounds bounds = NormBounds.batchNorm(x, dy, g, b, mean, var, EPS, training);
        for (boolean[] want : c.parameterGradients()) {
          String detail = c + (training ? " training" : " eval") + " dgamma " + want[0] + " dbeta " + want[1];
          try (BackendPair dx = BackendPair.of(c.shape(), c.layout());
              BackendPair dg = BackendPair.optional(want[0], perChannel);
              BackendPair db = BackendPair.optional(want[1], perChannel)) {
            for (Backend backend : Backend.values()) {
              Functional.batchNormBackward(backend, x, dy, g, mean, var, training, EPS, dx.get(backend),
                  BackendPair.get(dg, backend), BackendPair.get(db, backend));
            }
            if (training) dx.assertWithin("BN dx training", detail, bounds.dxTraining(), K_DX);
            else dx.assertWithin("BN dx eval", detail, bounds.dxConstantStatistics(), K_DX);
            BackendPair.assertWithin(dg, "BN dgamma", detail, bounds.dgamma(), K_PARAM_GRAD);
            BackendPair.assertWithin(db, "BN dbeta", detail, bounds.dbeta(), K_PARAM_GRAD);
          }
        }
      }
    }
  }
}
