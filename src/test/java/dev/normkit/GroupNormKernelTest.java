package dev.normkit;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Group norm: oneDNN against the double-precision reference for several group counts per shape (1, C and ones in
 * between), both layouts, every output compared element by element against its float32 bound ({@link NormBounds}).
 */
class GroupNormKernelTest {
  private static final double EPS = 1e-5;

  // Bounds in units of u * magnitude (NormBounds). -Dnormkit.printErrors=true prints the measured worst k per output;
  // over the cases below (groups of 2 to 99 values) it was: y 2.0, mean 2.0, var 4.9, dx 1.9, dgamma 1.3,
  // dbeta 2.2. The bounds leave about twice that.
  private static final double K_Y = 4;
  private static final double K_MEAN = 4;
  private static final double K_VAR = 10;
  private static final double K_DX = 4;
  private static final double K_PARAM_GRAD = 5;

  /** (shape, groups): G = 1 (layer-norm-like), G = C (instance-norm-like) and between; odd C, ranks 2 to 5. */
  static List<Arguments> cases() {
    List<Arguments> cases = new ArrayList<>();
    add(cases, Shape.of(2, 6), 1, 2, 3);
    add(cases, Shape.of(3, 12, 5), 1, 4, 12);
    add(cases, Shape.of(1, 3, 7), 1, 3);
    add(cases, Shape.of(2, 32, 4, 4), 8, 32);
    add(cases, Shape.of(1, 33, 3, 3), 3, 11);
    add(cases, Shape.of(2, 17, 2, 3), 1, 17);
    add(cases, Shape.of(2, 1, 5, 5), 1);
    add(cases, Shape.of(2, 16, 1, 1), 2, 4);
    add(cases, Shape.of(2, 6, 2, 3, 4), 2, 3);
    return cases;
  }

  private static void add(List<Arguments> cases, Shape shape, int... groups) {
    for (int g : groups) {
      for (NormCase c : NormCase.expand(List.of(shape), 3000L + 100L * cases.size() + g)) cases.add(Arguments.of(c, g));
    }
  }

  /** Groups of a power-of-two number of values: exact inputs have exact statistics. */
  static List<Arguments> exactStatisticsCases() {
    List<Arguments> cases = new ArrayList<>();
    add(cases, Shape.of(2, 8), 2);
    add(cases, Shape.of(2, 6, 4), 3);
    add(cases, Shape.of(2, 32, 4, 4), 8, 32);
    add(cases, Shape.of(1, 4, 2, 2, 2), 2);
    return cases.stream().filter(a -> ((NormCase) a.get()[0]).exact() && !((NormCase) a.get()[0]).affine()).toList();
  }

  @AfterAll
  static void printErrors() {
    BackendPair.printWorst("GN");
  }

  @ParameterizedTest(name = "{0} groups {1}")
  @MethodSource("cases")
  void forwardMatchesReference(NormCase c, int groups) {
    Shape perChannel = Shape.of(c.shape().channels());
    Shape stats = Functional.groupNormStatisticsShape(c.shape(), groups);
    String detail = c + " groups " + groups;
    try (Tensor x = c.x();
        Tensor g = c.gamma(perChannel);
        Tensor b = c.beta(perChannel);
        BackendPair y = BackendPair.of(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(stats);
        BackendPair var = BackendPair.of(stats)) {
      for (Backend backend : Backend.values()) {
        Functional.groupNorm(backend, x, groups, g, b, EPS, y.get(backend), mean.get(backend), var.get(backend));
      }
      NormBounds bounds =
          NormBounds.groupNorm(x, groups, null, g, b, mean.get(Backend.JAVA), var.get(Backend.JAVA), EPS);
      y.assertWithin("GN y", detail, bounds.y(), K_Y);
      mean.assertWithin("GN mean", detail, bounds.mean(), K_MEAN);
      var.assertWithin("GN var", detail, bounds.variance(), K_VAR);
    }
  }

  /** From the reference's saved statistics, every combination of wanted parameter gradients. */
  @ParameterizedTest(name = "{0} groups {1}")
  @MethodSource("cases")
  void backwardMatchesReference(NormCase c, int groups) {
    Shape perChannel = Shape.of(c.shape().channels());
    Shape stats = Functional.groupNormStatisticsShape(c.shape(), groups);
    try (Tensor x = c.x();
        Tensor dy = c.dy();
        Tensor g = c.gamma(perChannel);
        Tensor b = c.beta(perChannel);
        Tensor y = Tensor.empty(c.shape(), c.layout());
        Tensor mean = Tensor.empty(stats, Layout.CHANNELS_FIRST);
        Tensor var = Tensor.empty(stats, Layout.CHANNELS_FIRST)) {
      Functional.groupNorm(Backend.JAVA, x, groups, g, b, EPS, y, mean, var);
      NormBounds bounds = NormBounds.groupNorm(x, groups, dy, g, b, mean, var, EPS);
      for (boolean[] want : c.parameterGradients()) {
        String detail = c + " groups " + groups + " dgamma " + want[0] + " dbeta " + want[1];
        try (BackendPair dx = BackendPair.of(c.shape(), c.layout());
            BackendPair dg = BackendPair.optional(want[0], perChannel);
            BackendPair db = BackendPair.optional(want[1], perChannel)) {
          for (Backend backend : Backend.values()) {
            Functional.groupNormBackward(backend, x, dy, groups, g, mean, var, EPS, dx.get(backend),
                BackendPair.get(dg, backend), BackendPair.get(db, backend));
          }
          dx.assertWithin("GN dx", detail, bounds.dxTraining(), K_DX);
          BackendPair.assertWithin(dg, "GN dgamma", detail, bounds.dgamma(), K_PARAM_GRAD);
          BackendPair.assertWithin(db, "GN dbeta", detail, bounds.dbeta(), K_PARAM_GRAD);
        }
      }
    }
  }

  /** Exact inputs (multiples of 0.25) over power-of-two groups: mean and var must match bit for bit. */
  @ParameterizedTest(name = "{0} groups {1}")
  @MethodSource("exactStatisticsCases")
  void exactInputsGiveExactStatistics(NormCase c, int groups) {
    Shape stats = Functional.groupNormStatisticsShape(c.shape(), groups);
    try (Tensor x = c.x();
        Tensor y = Tensor.empty(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(stats);
        BackendPair var = BackendPair.of(stats)) {
      for (Backend backend : Backend.values()) {
        Functional.groupNorm(backend, x, groups, null, null, EPS, y, mean.get(backend), var.get(backend));
      }
      mean.assertClose("GN exact mean", c + " groups " + groups, 0);
      var.assertClose("GN exact var", c + " groups " + groups, 0);
    }
  }
}
