package dev.normkit;

import dev.normkit.backend.kernels.NativeLayerNorm;
import dev.normkit.backend.routing.RoutedLayerNorm;
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
  // over the cases below (rows of 1 to 240 values) it was: y 1.5, mean 2.2, var 3.6, dx 1.2, dgamma 1.5, dbeta 1.9.
  // The bounds leave about twice that.
  private static final NormalizationChecks.Tolerances K = new NormalizationChecks.Tolerances(4, 4, 8, 3, 4);

  /** Layer norm over the trailing {@code dims} dims of its input. */
  record Op(int dims) implements NormalizationChecks.Op {
    @Override public String name() { return "LN"; }
    @Override public String toString() { return detail(); }
    @Override public String detail() { return " normalized dims " + dims; }
    @Override public Shape parameters(Shape x) { return x.trailing(dims); }
    @Override public Shape statistics(Shape x) { return Functional.layerNormStatisticsShape(x, x.trailing(dims)); }

    @Override
    public void forward(Backend backend, Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor var) {
      Functional.layerNorm(backend, x, x.shape().trailing(dims), gamma, beta, EPS, y, mean, var);
    }

    @Override
    public void backward(
        Backend backend, Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor var, Tensor dx, Tensor dgamma,
        Tensor dbeta) {
      Functional.layerNormBackward(backend, x, dy, x.shape().trailing(dims), gamma, mean, var, EPS, dx, dgamma, dbeta);
    }

    @Override
    public NormBounds bounds(Tensor x, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var) {
      return NormBounds.layerNorm(x, dims, dy, gamma, beta, mean, var, EPS);
    }
  }

  /** (case, op): one and several trailing dims, all dims, odd sizes, ranks 2 to 5. */
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
        cases.add(Arguments.of(c, new Op(k)));
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
    return cases.stream().filter(a -> ((NormCase) a.get()[0]).exactWithoutAffine()).toList();
  }

  /**
   * (case, op) for normkit's kernels in every ISA and thread-count configuration, as routed by NATIVE (cases that go
   * to oneDNN are left out): whole rows, rows in chunks (long rows, fewer rows than threads, a single row of 2.4 MB,
   * larger than L2; 3 rows of 4.25 MB, a tensor beyond 8 MiB whose chunks prefetch), channels-last rows with permuted parameters (C normalized) and column sets (only trailing spatial
   * dims normalized, 1-D to 3-D), odd sizes (C = 17, 33), streaming stores (outputs of 1 MiB and more). Each shape in
   * both layouts, affine with random inputs and plain with exact ones.
   */
  static List<Arguments> configurationCases() {
    List<Arguments> cases = new ArrayList<>();
    addSweep(cases, Shape.of(3, 17, 5), 1, 2);
    addSweep(cases, Shape.of(2, 3, 4, 5), 1, 2, 3, 4);
    addSweep(cases, Shape.of(4, 33, 16, 16), 2, 3);
    addSweep(cases, Shape.of(1, 40, 30, 30), 2, 3);
    addSweep(cases, Shape.of(2, 3, 4, 5, 6), 2, 4);
    for (NormCase c : BatchNormKernelTest.largeCases(Shape.of(2, 3, 256, 256), 7800)) cases.add(Arguments.of(c, new Op(3)));
    for (NormCase c : BatchNormKernelTest.largeCases(Shape.of(1, 600000), 7900)) cases.add(Arguments.of(c, new Op(1)));
    // 12.75 MB: the chunked passes prefetch each row's next visit, in pieces whose last one is partial
    addSweep(cases, Shape.of(3, 17, 250, 250), 3);
    // chunked rows (288 KB of x and dy each), ten of them: the backward sums each chunk's dgamma and dbeta over all
    // ten in row order, in its sums pass
    addSweep(cases, Shape.of(10, 40, 30, 30), 3);
    // nine rows of 1.08 MB, 9.7 MB in all: the backward's sums pass advances eight rows together, then the ninth
    addSweep(cases, Shape.of(9, 3, 300, 300), 3);
    // channels-last over all dims: blocks of 16 lines that cross from one image to the next are moved value by value
    addSweep(cases, Shape.of(2, 16, 5, 5), 4);
    return cases;
  }

  private static void addSweep(List<Arguments> cases, Shape shape, int... normalizedDims) {
    for (int k : normalizedDims) {
      for (NormCase c : NormCase.expand(List.of(shape), 7000L + 100L * cases.size() + 10L * k)) {
        if (c.affine() != c.exact() && routedToNormkit(c, k)) cases.add(Arguments.of(c, new Op(k)));
      }
    }
  }

  /** Whether NATIVE runs the case on normkit's kernels (and not on oneDNN). */
  private static boolean routedToNormkit(NormCase c, int normalizedDims) {
    try (Tensor x = Tensor.empty(c.shape(), c.layout())) {
      return RoutedLayerNorm.kernelFor(x, normalizedDims) == NativeLayerNorm.INSTANCE;
    }
  }

  /** Rows of a power-of-two number of values: exact statistics in every configuration. */
  static List<Arguments> exactConfigurationCases() {
    List<Arguments> cases = new ArrayList<>();
    add(cases, Shape.of(4, 16), 1);
    add(cases, Shape.of(2, 4, 2, 2), 1, 3);
    add(cases, Shape.of(2, 16, 32, 32), 2, 3);
    return cases.stream().filter(a -> ((NormCase) a.get()[0]).exactWithoutAffine()).toList();
  }

  static List<Arguments> nanCases() {
    List<Arguments> cases = new ArrayList<>();
    addSweep(cases, Shape.of(2, 3, 4, 5), 2, 3);
    for (NormCase c : BatchNormKernelTest.largeCases(Shape.of(2, 3, 256, 256), 7850)) cases.add(Arguments.of(c, new Op(3)));
    return cases;
  }

  @AfterAll
  static void printErrors() {
    BackendPair.printWorst("LN");
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

  /** A NaN (x forward, dy backward) stays in its row, and in its position's dgamma and dbeta. */
  @ParameterizedTest(name = "{0}{1}")
  @MethodSource("nanCases")
  void nanPropagatesWithinItsRow(NormCase c, Op op) {
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
}
