package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
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
  private static final NormalizationChecks.Tolerances K = new NormalizationChecks.Tolerances(4, 4, 10, 4, 5);

  /** Group norm with {@code groups} groups. */
  record Op(int groups) implements NormalizationChecks.Op {
    @Override public String name() { return "GN"; }
    @Override public String toString() { return detail(); }
    @Override public String detail() { return " groups " + groups; }
    @Override public Shape parameters(Shape x) { return Shape.of(x.channels()); }
    @Override public Shape statistics(Shape x) { return Functional.groupNormStatisticsShape(x, groups); }

    @Override
    public void forward(Backend backend, Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor var) {
      Functional.groupNorm(backend, x, groups, gamma, beta, EPS, y, mean, var);
    }

    @Override
    public void backward(
        Backend backend, Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor var, Tensor dx, Tensor dgamma,
        Tensor dbeta) {
      Functional.groupNormBackward(backend, x, dy, groups, gamma, mean, var, EPS, dx, dgamma, dbeta);
    }

    @Override
    public NormBounds bounds(Tensor x, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var) {
      return NormBounds.groupNorm(x, groups, dy, gamma, beta, mean, var, EPS);
    }
  }

  /** (case, op): G = 1 (layer-norm-like), G = C (instance-norm-like) and between; odd C, ranks 2 to 5. */
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
      for (NormCase c : NormCase.expand(List.of(shape), 3000L + 100L * cases.size() + g)) {
        cases.add(Arguments.of(c, new Op(g)));
      }
    }
  }

  /** Groups of a power-of-two number of values: exact inputs have exact statistics. */
  static List<Arguments> exactStatisticsCases() {
    List<Arguments> cases = new ArrayList<>();
    add(cases, Shape.of(2, 8), 2);
    add(cases, Shape.of(2, 6, 4), 3);
    add(cases, Shape.of(2, 32, 4, 4), 8, 32);
    add(cases, Shape.of(1, 4, 2, 2, 2), 2);
    return cases.stream().filter(a -> ((NormCase) a.get()[0]).exactWithoutAffine()).toList();
  }

  /**
   * (case, op) for normkit's kernels in every ISA and thread-count configuration: single-threaded and parallel,
   * groups of 1 to 32 channels (C = 33 with 3 and 11 groups, not a multiple of 16), N = 1 (channels-last images
   * split between threads), (N, C), streaming stores (outputs of 1 MiB and more), and a set of 2.56 MB, larger than
   * L2. Each shape in both layouts, affine with random inputs and plain with exact ones.
   */
  static List<Arguments> configurationCases() {
    List<Arguments> cases = new ArrayList<>();
    addSweep(cases, Shape.of(3, 33, 7, 7), 3, 11);
    addSweep(cases, Shape.of(1, 64, 20, 20), 32);
    addSweep(cases, Shape.of(2, 6, 1500), 2);
    addSweep(cases, Shape.of(8, 12), 4);
    addSweep(cases, Shape.of(2, 32, 64, 64), 8);
    for (NormCase c : BatchNormKernelTest.largeCases(Shape.of(1, 4, 400, 400), 6900)) cases.add(Arguments.of(c, new Op(1)));
    // a channels-last image of 3.3 MB: on one thread its gradient sums go row by row (blocks from 2 MiB), and its
    // backward's output (6.6 MB of x and dy, beyond twice a 1-2 MB L2) goes first to last (after_sums_order)
    for (NormCase c : BatchNormKernelTest.largeCases(Shape.of(1, 32, 160, 160), 6950)) cases.add(Arguments.of(c, new Op(8)));
    return cases;
  }

  private static void addSweep(List<Arguments> cases, Shape shape, int... groups) {
    for (int g : groups) {
      for (NormCase c : NormCase.expand(List.of(shape), 6000L + 100L * cases.size() + g)) {
        if (c.affine() != c.exact()) cases.add(Arguments.of(c, new Op(g)));
      }
    }
  }

  /** Groups of a power-of-two number of values: exact statistics in every configuration. */
  static List<Arguments> exactConfigurationCases() {
    List<Arguments> cases = new ArrayList<>();
    add(cases, Shape.of(2, 8, 4, 4), 2);
    add(cases, Shape.of(2, 32, 16, 16), 8, 32);
    return cases.stream().filter(a -> ((NormCase) a.get()[0]).exactWithoutAffine()).toList();
  }

  static List<Arguments> nanCases() {
    List<Arguments> cases = new ArrayList<>();
    addSweep(cases, Shape.of(3, 33, 7, 7), 11);
    addSweep(cases, Shape.of(2, 32, 64, 64), 8);
    return cases;
  }

  @AfterAll
  static void printErrors() {
    BackendPair.printWorst("GN");
  }

  @ParameterizedTest(name = "{0}{1}")
  @MethodSource("configurationCases")
  void kernelsMatchReferenceInEveryConfiguration(NormCase c, Op op) {
    NormalizationChecks.everyConfigurationMatchesReference(op, c, K, false);
  }

  @ParameterizedTest(name = "{0}{1}")
  @MethodSource("exactConfigurationCases")
  void exactStatisticsInEveryConfiguration(NormCase c, Op op) {
    NormalizationChecks.everyConfigurationMatchesReference(op, c, K, true);
  }

  /** A NaN in channel 1 of the last image (x forward, dy backward) stays in its (n, g) set and channel. */
  @ParameterizedTest(name = "{0}{1}")
  @MethodSource("nanCases")
  void nanPropagatesWithinItsSet(NormCase c, Op op) {
    NormalizationChecks.nanPropagates(op, c, BatchNormKernelTest.nanIndex(c.shape()));
  }

  @ParameterizedTest(name = "{0}{1}")
  @MethodSource("cases")
  void forwardMatchesReference(NormCase c, Op op) {
    NormalizationChecks.forwardMatchesReference(op, c, K);
  }

  @ParameterizedTest(name = "{0}{1}")
  @MethodSource("cases")
  void backwardMatchesReference(NormCase c, Op op) {
    NormalizationChecks.backwardMatchesReference(op, c, K);
  }

  @ParameterizedTest(name = "{0}{1}")
  @MethodSource("exactStatisticsCases")
  void exactInputsGiveExactStatistics(NormCase c, Op op) {
    NormalizationChecks.exactInputsGiveExactStatistics(op, c);
  }

  /**
   * oneDNN 3.11's group norm on a rank-2 (N, C) src writes past the end of dst (DnnlGroupNorm views it as (N, C, 1));
   * the outputs here sit at the start of larger buffers whose tails must stay untouched.
   */
  @Test
  void rank2InputWritesNothingPastItsOutputs() {
    Shape shape = Shape.of(2, 8);
    Shape stats = Functional.groupNormStatisticsShape(shape, 2);
    int tail = 1024;
    float sentinel = -777f;
    try (Tensor x = Tensor.of(TestData.normal(1, 16, 0.5, 2), shape);
        Tensor yBuffer = Tensor.empty(Shape.of(16 + tail), Layout.CHANNELS_FIRST);
        Tensor meanBuffer = Tensor.empty(Shape.of(4 + tail), Layout.CHANNELS_FIRST);
        Tensor varBuffer = Tensor.empty(Shape.of(4 + tail), Layout.CHANNELS_FIRST)) {
      for (Tensor t : new Tensor[] {yBuffer, meanBuffer, varBuffer}) t.fill(sentinel);
      Tensor y = Tensor.wrap(yBuffer.pointer(), shape, Layout.CHANNELS_FIRST);
      Tensor mean = Tensor.wrap(meanBuffer.pointer(), stats, Layout.CHANNELS_FIRST);
      Tensor var = Tensor.wrap(varBuffer.pointer(), stats, Layout.CHANNELS_FIRST);
      Functional.groupNorm(Backend.NATIVE, x, 2, null, null, EPS, y, mean, var);
      float[] ys = yBuffer.toArray(), means = meanBuffer.toArray(), vars = varBuffer.toArray();
      for (int i = 0; i < tail; i++) {
        assertEquals(sentinel, ys[16 + i], "y buffer overwritten at 16 + " + i);
        assertEquals(sentinel, means[4 + i], "mean buffer overwritten at 4 + " + i);
        assertEquals(sentinel, vars[4 + i], "var buffer overwritten at 4 + " + i);
      }
    }
  }
}
