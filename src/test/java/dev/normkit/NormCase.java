package dev.normkit;

import java.util.ArrayList;
import java.util.List;

/**
 * One native-vs-reference case of a normalization: input shape and layout, affine or not, random or exact inputs,
 * and the seed all its inputs derive from (shown in the test name).
 *
 * <p>Random inputs: x ~ N(0.5, 2), dy ~ N(0, 1), gamma ~ N(1, 0.5), beta ~ N(0, 1). Exact inputs are multiples of
 * 0.25 ({@link TestData#exact}), whose sums are exact in float32.
 */
record NormCase(Shape shape, Layout layout, boolean affine, boolean exact, long seed) {
  /** Every shape in both layouts, with and without affine, random and exact inputs, seeds from {@code firstSeed}. */
  static List<NormCase> expand(List<Shape> shapes, long firstSeed) {
    List<NormCase> cases = new ArrayList<>();
    long seed = firstSeed;
    for (Shape s : shapes) {
      for (Layout layout : Layout.values()) {
        for (boolean affine : new boolean[] {true, false}) {
          for (boolean exact : new boolean[] {false, true}) cases.add(new NormCase(s, layout, affine, exact, seed++));
        }
      }
    }
    return cases;
  }

  /**
   * The (dgamma wanted, dbeta wanted) combinations a backward test runs. With affine parameters: both, neither (dx
   * alone, gamma still used), and one alone (a kernel must write a wanted gradient even when the other is not
   * wanted): dgamma or dbeta by the seed's parity mixed with its bit 2, which {@link #expand} flips between layouts,
   * so that each appears with both layouts and both input kinds.
   */
  List<boolean[]> parameterGradients() {
    boolean[] one = ((seed + (seed >> 2)) & 1) == 0 ? new boolean[] {true, false} : new boolean[] {false, true};
    return affine
        ? List.of(new boolean[] {true, true}, new boolean[] {false, false}, one)
        : List.<boolean[]>of(new boolean[] {false, false});
  }

  /** Exact inputs without affine parameters: the cases a statistics-only check needs. */
  boolean exactWithoutAffine() {
    return exact && !affine;
  }

  Tensor x() {
    return Tensor.of(values(seed, shape, 0.5, 2), shape, layout);
  }

  Tensor dy() {
    return Tensor.of(values(seed + 1, shape, 0, 1), shape, layout);
  }

  /** gamma of the given parameter shape, or null without affine. */
  Tensor gamma(Shape params) {
    return affine ? Tensor.of(values(seed + 2, params, 1, 0.5), params) : null;
  }

  /** beta of the given parameter shape, or null without affine. */
  Tensor beta(Shape params) {
    return affine ? Tensor.of(values(seed + 3, params, 0, 1), params) : null;
  }

  private float[] values(long s, Shape of, double mean, double std) {
    int n = Math.toIntExact(of.elementCount());
    return exact ? TestData.exact(s, n) : TestData.normal(s, n, mean, std);
  }

  @Override
  public String toString() {
    return shape + " " + layout + (affine ? " affine" : " plain") + (exact ? " exact" : " random") + " seed " + seed;
  }
}
