package dev.normkit;

import java.util.ArrayList;
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
  // over the 96 cases below (sets of 2 to 120 values) it was: y 2.2, inference y 1.9, mean 2.8, var 6.7,
  // dx training 1.4, dx eval 3.5, dgamma 1.2, dbeta 1.6. The bounds leave about twice that: a normalized value is a
  // handful of roundings, a sum over n values a few more as n grows.
  private static final NormalizationChecks.Tolerances K = new NormalizationChecks.Tolerances(5, 6, 12, 8, 4);

  /** Batch norm in training mode: batch statistics. */
  static final NormalizationChecks.Op TRAINING = new NormalizationChecks.Op() {
    @Override public String name() { return "BN"; }
    @Override public String detail() { return ""; }
    @Override public Shape parameters(Shape x) { return Shape.of(x.channels()); }
    @Override public Shape statistics(Shape x) { return Shape.of(x.channels()); }

    @Override
    public void forward(Backend backend, Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor var) {
      Functional.batchNorm(backend, x, null, null, gamma, beta, true, MOMENTUM, EPS, y, mean, var);
    }

    @Override
    public void backward(
        Backend backend, Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor var, Tensor dx, Tensor dgamma,
        Tensor dbeta) {
      Functional.batchNormBackward(backend, x, dy, gamma, mean, var, true, EPS, dx, dgamma, dbeta);
    }

    @Override
    public NormBounds bounds(Tensor x, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var) {
      return NormBounds.batchNorm(x, dy, gamma, beta, mean, var, EPS, true);
    }
  };

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
        .filter(NormCase::exactWithoutAffine)
        .toList();
  }

  /**
   * Shapes for normkit's kernels in every ISA and thread-count configuration, one per partition they choose:
   * single-threaded (below 16384 elements), by channel and by plane (C = 3 with 2 threads) channels-first, row
   * sweeps channels-last with C = 17 and 33 (not a multiple of 16), N = 1, (N, C) (spatial 1), C = 1, streaming
   * stores (outputs of 1 MiB and more), channels of 2.4 MB, larger than L2, and channels-last blocks of 2.2 MB, whose
   * gradient sums go row by row.
   */
  static List<NormCase> configurationCases() {
    List<NormCase> cases = new ArrayList<>(sweepCases(List.of(
        Shape.of(3, 33, 7, 7),
        Shape.of(1, 17, 40, 40),
        Shape.of(6, 3, 30, 31),
        Shape.of(64, 5),
        Shape.of(2, 1, 9000),
        Shape.of(2, 16, 96, 96)), 4000));
    cases.addAll(largeCases(Shape.of(1, 2, 768, 768), 4100));
    // channels-last rows of 17 channels, 2.2 MB: on one thread the backward sums them row by row (from 2 MiB)
    cases.addAll(largeCases(Shape.of(2, 17, 128, 128), 4200));
    return cases;
  }

  /** A shape too large to run every input kind: both layouts, affine with random inputs. */
  static List<NormCase> largeCases(Shape shape, long firstSeed) {
    return NormCase.expand(List.of(shape), firstSeed).stream().filter(c -> c.affine() && !c.exact()).toList();
  }

  /** Channels of a power-of-two number of values: exact statistics in every configuration. */
  static List<NormCase> exactConfigurationCases() {
    return NormCase.expand(List.of(Shape.of(8, 5), Shape.of(2, 3, 4, 4), Shape.of(4, 17, 8, 8), Shape.of(16, 2, 32, 64)),
            4500)
        .stream()
        .filter(NormCase::exactWithoutAffine)
        .toList();
  }

  /** Each shape in both layouts, affine with random inputs and plain with exact ones. */
  static List<NormCase> sweepCases(List<Shape> shapes, long firstSeed) {
    return NormCase.expand(shapes, firstSeed).stream().filter(c -> c.affine() != c.exact()).toList();
  }

  @AfterAll
  static void printErrors() {
    BackendPair.printWorst("BN");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configurationCases")
  void kernelsMatchReferenceInEveryConfiguration(NormCase c) {
    NormalizationChecks.everyConfigurationMatchesReference(TRAINING, c, K, false);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("exactConfigurationCases")
  void exactStatisticsInEveryConfiguration(NormCase c) {
    NormalizationChecks.everyConfigurationMatchesReference(TRAINING, c, K, true);
  }

  /** Configuration cases small enough to compare every backend in every configuration (given statistics). */
  static List<NormCase> smallConfigurationCases() {
    return configurationCases().stream().filter(c -> c.shape().elementCount() < 100_000).toList();
  }

  /** Inference and evaluation-mode backward (given statistics) in every configuration of normkit's kernels. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("smallConfigurationCases")
  void givenStatisticsInEveryConfiguration(NormCase c) {
    for (NormalizationChecks.Config config : NormalizationChecks.configs(c.shape())) {
      try (NormalizationChecks.ConfigScope scope = new NormalizationChecks.ConfigScope(config)) {
        inferenceForwardMatchesReference(c);
        evalBackwardMatchesReference(c);
      }
    }
  }

  /** A NaN in channel 1 (x for the forward, dy for the backward) stays in that channel. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("nanCases")
  void nanPropagatesWithinItsChannel(NormCase c) {
    NormalizationChecks.nanPropagates(TRAINING, c, nanIndex(c.shape()));
  }

  static List<NormCase> nanCases() {
    return sweepCases(List.of(Shape.of(3, 33, 7, 7), Shape.of(2, 16, 96, 96), Shape.of(64, 5)), 4800);
  }

  /** The logical index of an element of channel 1, image N - 1, in the middle of its spatial positions. */
  static int nanIndex(Shape s) {
    long n = s.batch() - 1, spatial = s.spatialSize();
    return Math.toIntExact((n * s.channels() + 1) * spatial + spatial / 2);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void trainingForwardMatchesReference(NormCase c) {
    NormalizationChecks.forwardMatchesReference(TRAINING, c, K);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void trainingBackwardMatchesReference(NormCase c) {
    NormalizationChecks.backwardMatchesReference(TRAINING, c, K);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("exactStatisticsCases")
  void exactInputsGiveExactStatistics(NormCase c) {
    NormalizationChecks.exactInputsGiveExactStatistics(TRAINING, c);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void inferenceForwardMatchesReference(NormCase c) {
    Shape perChannel = Shape.of(c.shape().channels());
    try (Tensor x = c.x();
        Tensor g = c.gamma(perChannel);
        Tensor b = c.beta(perChannel);
        Tensor runningMean = runningMean(c);
        Tensor runningVar = runningVar(c);
        BackendPair y = BackendPair.of(c.shape(), c.layout())) {
      for (Backend backend : Backend.values()) {
        Functional.batchNorm(backend, x, runningMean, runningVar, g, b, false, MOMENTUM, EPS, y.get(backend), null,
            null);
      }
      NormBounds bounds = NormBounds.batchNorm(x, null, g, b, runningMean, runningVar, EPS, false);
      y.assertWithin("BN inference y", c.toString(), bounds.y(), K.y());
    }
  }

  /** Eval-mode backward: the running statistics are constants, dx = dy * gamma / sqrt(rv + eps). */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void evalBackwardMatchesReference(NormCase c) {
    Shape perChannel = Shape.of(c.shape().channels());
    try (Tensor x = c.x();
        Tensor dy = c.dy();
        Tensor g = c.gamma(perChannel);
        Tensor runningMean = runningMean(c);
        Tensor runningVar = runningVar(c)) {
      NormBounds bounds = NormBounds.batchNorm(x, dy, g, null, runningMean, runningVar, EPS, false);
      for (boolean[] want : c.parameterGradients()) {
        String detail = c + " eval dgamma " + want[0] + " dbeta " + want[1];
        try (BackendPair dx = BackendPair.of(c.shape(), c.layout());
            BackendPair dg = BackendPair.optional(want[0], perChannel);
            BackendPair db = BackendPair.optional(want[1], perChannel)) {
          for (Backend backend : Backend.values()) {
            Functional.batchNormBackward(backend, x, dy, g, runningMean, runningVar, false, EPS, dx.get(backend),
                BackendPair.get(dg, backend), BackendPair.get(db, backend));
          }
          dx.assertWithin("BN dx eval", detail, bounds.dxConstantStatistics(), K.dx());
          BackendPair.assertWithin(dg, "BN dgamma eval", detail, bounds.dgamma(), K.parameterGradients());
          BackendPair.assertWithin(db, "BN dbeta eval", detail, bounds.dbeta(), K.parameterGradients());
        }
      }
    }
  }

  private static Tensor runningMean(NormCase c) {
    int channels = (int) c.shape().channels();
    return Tensor.of(TestData.normal(c.seed() + 4, channels, 0, 1), Shape.of(channels));
  }

  private static Tensor runningVar(NormCase c) {
    int channels = (int) c.shape().channels();
    return Tensor.of(TestData.uniform(c.seed() + 5, channels, 0.5, 2), Shape.of(channels));
  }
}
