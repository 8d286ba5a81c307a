package dev.normkit;

import dev.normkit.backend.routing.RoutedConvolution;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * conv2d: oneDNN against the double-precision reference, forward, backward data and backward weights (with and
 * without the bias gradient, and the bias gradient alone), over strides, paddings, dilations, groups (up to
 * depthwise), odd channel counts and both activation and weight layouts.
 *
 * <p>Each output element is a sum of products; its float32 error is bounded by k * u * t with t the same sum taken
 * over absolute values (the reference run on |x|, |w|, |dy|, |bias|), u = 2^-24. With exact inputs (multiples of
 * 0.25) every product and partial sum is exact in float32, so native and reference must agree bit for bit. That
 * holds for Winograd's F(2x2, 3x3) too (NATIVE's 3x3 convolutions from {@link RoutedConvolution}'s size on): its
 * transforms only add, subtract and halve, so with such inputs every value it forms is a short dyadic fraction.
 */
class ConvolutionKernelTest {
  // Bounds in units of u * t. -Dnormkit.printErrors=true prints the measured worst k per output; over the random
  // cases below (sums of up to 576 terms for y, 162 for dw and dbias) it was: y 4.5, dx 5.2, dw 4.9,
  // dbias 1.5; exact inputs: 0 everywhere. The bounds leave about twice that (a sum's rounding grows with its
  // length: these bounds hold for sums of this size, not for any).
  private static final double K_Y = 10;
  private static final double K_DX = 10;
  private static final double K_DW = 10;
  private static final double K_DBIAS = 3;

  /** One case: x (N, C, H, W), w (O, C/G, kH, kW), the geometry, bias or not, layouts, input kind, seed. */
  record ConvCase(Shape x, Shape w, Conv2dSpec spec, boolean bias, Layout layout, Layout weightLayout, boolean exact,
      long seed) {
    Shape y() {
      return spec.outputShape(x, w);
    }

    Tensor input() {
      return Tensor.of(values(seed, x), x, layout);
    }

    Tensor weight() {
      return Tensor.of(values(seed + 1, w), w, weightLayout);
    }

    Tensor biasVector() {
      return bias ? Tensor.of(values(seed + 2, Shape.of(w.dim(0))), Shape.of(w.dim(0))) : null;
    }

    Tensor gradOutput() {
      return Tensor.of(values(seed + 3, y()), y(), layout);
    }

    private float[] values(long s, Shape shape) {
      int n = (int) shape.elementCount();
      return exact ? TestData.exact(s, n) : TestData.normal(s, n, 0, 1);
    }

    @Override
    public String toString() {
      return "x " + x + " w " + w + " " + spec + (bias ? " bias" : "") + " " + layout + " w " + weightLayout
          + (exact ? " exact" : " random") + " seed " + seed;
    }
  }

  static List<ConvCase> cases() {
    List<Object[]> geometries = List.of(
        new Object[] {Shape.of(2, 3, 7, 7), Shape.of(4, 3, 3, 3), Conv2dSpec.defaults(), true},
        new Object[] {Shape.of(1, 3, 8, 9), Shape.of(5, 3, 3, 3), Conv2dSpec.of(2, 1, 1, 1), false},
        new Object[] {Shape.of(2, 4, 9, 7), Shape.of(6, 2, 3, 2), Conv2dSpec.of(1, 2, 2, 2), true},
        new Object[] {Shape.of(1, 8, 6, 6), Shape.of(8, 1, 3, 3), Conv2dSpec.of(1, 1, 1, 8), true},
        new Object[] {Shape.of(2, 17, 5, 6), Shape.of(16, 17, 1, 1), Conv2dSpec.defaults(), true},
        new Object[] {Shape.of(1, 16, 10, 10), Shape.of(32, 16, 5, 5), Conv2dSpec.of(3, 2, 1, 1), false},
        new Object[] {Shape.of(3, 6, 5, 5), Shape.of(9, 2, 3, 3), Conv2dSpec.of(2, 1, 0, 1, 1, 2, 3), true},
        new Object[] {Shape.of(1, 1, 4, 4), Shape.of(1, 1, 4, 4), Conv2dSpec.defaults(), true},
        new Object[] {Shape.of(2, 33, 4, 4), Shape.of(33, 11, 3, 3), Conv2dSpec.of(1, 1, 1, 3), true},
        new Object[] {Shape.of(1, 2, 3, 3), Shape.of(4, 1, 1, 1), Conv2dSpec.of(2, 0, 1, 2), false},
        new Object[] {Shape.of(2, 64, 6, 6), Shape.of(16, 64, 3, 3), Conv2dSpec.of(1, 1, 1, 1), true},
        new Object[] {Shape.of(1, 3, 5, 5), Shape.of(2, 3, 3, 3), Conv2dSpec.of(1, 0, 2, 1), true},
        // 2^18 activation values: large enough to run on every requested thread (the others run on one)
        new Object[] {Shape.of(2, 16, 64, 64), Shape.of(16, 16, 3, 3), Conv2dSpec.of(1, 1, 1, 1), true},
        // Winograd on NATIVE (with a channels-first weight): paddings 0, 1 and 2, odd output sizes (partial tiles at
        // the edges), channel counts not a multiple of a vector
        new Object[] {Shape.of(3, 32, 33, 31), Shape.of(64, 32, 3, 3), Conv2dSpec.defaults(), true},
        new Object[] {Shape.of(8, 48, 17, 19), Shape.of(47, 48, 3, 3), Conv2dSpec.of(1, 1, 1, 1), false},
        new Object[] {Shape.of(2, 33, 35, 33), Shape.of(64, 33, 3, 3), Conv2dSpec.of(1, 2, 1, 1), true});
    Layout[][] layouts = {
      {Layout.CHANNELS_FIRST, Layout.CHANNELS_FIRST},
      {Layout.CHANNELS_LAST, Layout.CHANNELS_FIRST},
      {Layout.CHANNELS_LAST, Layout.CHANNELS_LAST}
    };
    List<ConvCase> cases = new ArrayList<>();
    long seed = 4000;
    for (Object[] g : geometries) {
      for (Layout[] l : layouts) {
        for (boolean exact : new boolean[] {false, true}) {
          cases.add(new ConvCase((Shape) g[0], (Shape) g[1], (Conv2dSpec) g[2], (Boolean) g[3], l[0], l[1], exact,
              seed));
          seed += 10;
        }
      }
    }
    return cases;
  }

  @AfterAll
  static void printErrors() {
    BackendPair.printWorst("conv");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void forwardMatchesReference(ConvCase c) {
    try (Tensor x = c.input();
        Tensor w = c.weight();
        Tensor b = c.biasVector();
        BackendPair y = BackendPair.of(c.y(), c.layout());
        Tensor ax = abs(x);
        Tensor aw = abs(w);
        Tensor ab = b == null ? null : abs(b);
        Tensor t = Tensor.empty(c.y(), c.layout())) {
      for (Backend backend : Backend.values()) Functional.conv2d(backend, x, w, b, c.spec(), y.get(backend));
      Functional.conv2d(Backend.JAVA, ax, aw, ab, c.spec(), t);
      y.assertWithin("conv y", c.toString(), magnitude(t), c.exact() ? 0 : K_Y);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void backwardDataMatchesReference(ConvCase c) {
    try (Tensor x = c.input();
        Tensor w = c.weight();
        Tensor dy = c.gradOutput();
        BackendPair dx = BackendPair.of(c.x(), c.layout());
        Tensor aw = abs(w);
        Tensor ady = abs(dy);
        Tensor t = Tensor.empty(c.x(), c.layout())) {
      for (Backend backend : Backend.values()) {
        Functional.conv2dBackward(backend, x, w, dy, c.spec(), dx.get(backend), null, null);
      }
      Functional.conv2dBackward(Backend.JAVA, x, aw, ady, c.spec(), t, null, null);
      dx.assertWithin("conv dx", c.toString(), magnitude(t), c.exact() ? 0 : K_DX);
    }
  }

  /** dw with dbias, dw alone, dbias alone. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void backwardWeightsMatchesReference(ConvCase c) {
    Shape perFilter = Shape.of(c.w().dim(0));
    try (Tensor x = c.input();
        Tensor w = c.weight();
        Tensor dy = c.gradOutput();
        Tensor ax = abs(x);
        Tensor ady = abs(dy);
        Tensor tw = Tensor.empty(c.w(), c.weightLayout());
        Tensor tb = Tensor.empty(perFilter, Layout.CHANNELS_FIRST)) {
      Functional.conv2dBackward(Backend.JAVA, ax, w, ady, c.spec(), null, tw, tb);
      for (boolean[] want : List.of(new boolean[] {true, true}, new boolean[] {true, false},
          new boolean[] {false, true})) {
        String detail = c + " dw " + want[0] + " dbias " + want[1];
        try (BackendPair dw = want[0] ? BackendPair.of(c.w(), c.weightLayout()) : null;
            BackendPair db = BackendPair.optional(want[1], perFilter)) {
          for (Backend backend : Backend.values()) {
            Functional.conv2dBackward(backend, x, w, dy, c.spec(), null, BackendPair.get(dw, backend),
                BackendPair.get(db, backend));
          }
          BackendPair.assertWithin(dw, "conv dw", detail, magnitude(tw), c.exact() ? 0 : K_DW);
          BackendPair.assertWithin(db, "conv dbias", detail, magnitude(tb), c.exact() ? 0 : K_DBIAS);
        }
      }
    }
  }

  /** The Winograd geometries above run on it on NATIVE (with a channels-first weight), the others do not. */
  @org.junit.jupiter.api.Test
  void winogradRunsWhereTheRoutingSaysSo() {
    int winograd = 0;
    for (ConvCase c : cases()) {
      if (c.weightLayout() != Layout.CHANNELS_FIRST) continue;
      try (Tensor x = Tensor.zeros(c.x(), c.layout()); Tensor w = Tensor.zeros(c.w());
          Tensor y = Tensor.zeros(c.y(), c.layout())) {
        long channels = c.x().dim(1), out = c.w().dim(0);
        boolean expected = c.w().dim(2) == 3 && c.spec().strideH() == 1 && c.spec().groups() == 1
            && c.spec().dilationH() == 1 && channels >= 32 && out >= 32 && channels * out >= 2048
            && c.y().dim(0) * c.y().dim(2) * c.y().dim(3) >= 2048;
        org.junit.jupiter.api.Assertions.assertEquals(expected, RoutedConvolution.usesWinograd(x, w, y, c.spec()),
            c.toString());
        if (expected) winograd++;
      }
    }
    org.junit.jupiter.api.Assertions.assertEquals(3 * 2 * 2, winograd, "Winograd cases (geometries x layouts x kinds)");
  }

  private static Tensor abs(Tensor t) {
    float[] v = t.toArray();
    for (int i = 0; i < v.length; i++) v[i] = Math.abs(v[i]);
    return Tensor.of(v, t.shape(), t.layout());
  }

  private static double[] magnitude(Tensor t) {
    float[] v = t.toArray();
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) d[i] = v[i];
    return d;
  }
}
