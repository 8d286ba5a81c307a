package dev.normkit.bench;

import dev.normkit.Backend;
import dev.normkit.Conv2dSpec;
import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.WsVariant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * The benchmark suite as data: which op, pass, layout and shape is measured, with each case's inputs built once.
 * Cases are created lazily (one at a time) so that the suite never holds every tensor at once.
 */
public final class BenchCases {
  /** The seed's feature map, a DRAM-sized activation, and a latency-sized one. */
  public static final List<Shape> ACTIVATIONS =
      List.of(Shape.of(32, 64, 14, 14), Shape.of(8, 256, 56, 56), Shape.of(1, 64, 7, 7));
  /** Transformer-style rows for layer norm. */
  public static final List<Shape> ROWS = List.of(Shape.of(1, 768), Shape.of(128, 768));
  /** A 3x3 convolution weight for weight standardization. */
  public static final Shape WEIGHT = Shape.of(256, 256, 3, 3);

  static final String FORWARD_TRAINING = "forward-training";
  static final String FORWARD_INFERENCE = "forward-inference";
  static final String BACKWARD = "backward";

  private static final String BATCH_NORM = "batch-norm";
  private static final String INSTANCE_NORM = "instance-norm";
  private static final String GROUP_NORM = "group-norm";
  private static final String LAYER_NORM = "layer-norm";
  private static final String WEIGHT_STD = "weight-std";
  private static final String STD_CONV2D = "std-conv2d";

  /** The ops, passes and layouts of the suite: the values {@code bench --op, --pass, --layout} accept. */
  public static final List<String> OPS =
      List.of(BATCH_NORM, INSTANCE_NORM, GROUP_NORM, LAYER_NORM, WEIGHT_STD, STD_CONV2D);
  public static final List<String> PASSES = List.of(FORWARD_TRAINING, FORWARD_INFERENCE, BACKWARD);
  public static final List<String> LAYOUTS =
      List.of(Layout.CHANNELS_FIRST.cliName(), Layout.CHANNELS_LAST.cliName());

  private static final double EPS = 1e-5;
  private static final Backend NATIVE = Backend.NATIVE;

  private BenchCases() {}

  /** Every case of the suite, in a stable order, each built on demand. */
  public static List<Supplier<BenchCase>> all() {
    List<Supplier<BenchCase>> cases = new ArrayList<>();
    for (Shape s : ACTIVATIONS) {
      for (Layout l : Layout.values()) {
        for (String pass : List.of(FORWARD_TRAINING, FORWARD_INFERENCE, BACKWARD)) {
          cases.add(() -> batchNorm(s, l, pass));
          cases.add(() -> instanceNorm(s, l, pass));
        }
        for (String pass : List.of(FORWARD_TRAINING, BACKWARD)) {
          cases.add(() -> groupNorm(s, l, pass));
          cases.add(() -> layerNorm(s, l, s.rank() - 1, pass));
          cases.add(() -> stdConv2d(s, l, pass));
        }
      }
    }
    for (Shape s : ROWS) {
      for (String pass : List.of(FORWARD_TRAINING, BACKWARD)) cases.add(() -> layerNorm(s, Layout.CHANNELS_FIRST, 1, pass));
    }
    for (String pass : List.of(FORWARD_TRAINING, BACKWARD)) cases.add(() -> weightStandardization(WEIGHT, pass));
    return cases;
  }

  /**
   * The case with this op, pass, layout and shape ("32x64x14x14"), built now; throws IllegalArgumentException when
   * the suite has no such case.
   */
  public static BenchCase find(String op, String pass, String layout, String shape) {
    for (Supplier<BenchCase> supplier : all()) {
      BenchCase c = supplier.get();
      if (c.op().equals(op) && c.pass().equals(pass) && c.layout().equals(layout)
          && BenchRunner.shapeText(c.shape()).equals(shape)) {
        return c;
      }
      c.close();
    }
    throw new IllegalArgumentException("no benchmark case " + op + " " + pass + " " + layout + " " + shape);
  }

  private static long forwardBytes(Shape s) {
    return 2 * s.elementCount() * Float.BYTES;
  }

  private static long backwardBytes(Shape s) {
    return 3 * s.elementCount() * Float.BYTES;
  }

  private static long bytes(Shape s, String pass) {
    return pass.equals(BACKWARD) ? backwardBytes(s) : forwardBytes(s);
  }

  private static Tensor random(BenchCase c, Shape s, Layout l, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[Math.toIntExact(s.elementCount())];
    for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 4 - 2);
    return c.own(Tensor.of(v, s, l));
  }

  private static Tensor vector(BenchCase c, Shape s, float value) {
    Tensor t = c.own(Tensor.zeros(s));
    t.fill(value);
    return t;
  }

  static BenchCase batchNorm(Shape s, Layout l, String pass) {
    BenchCase c = new BenchCase(BATCH_NORM, pass, l.cliName(), s.dims(), Map.of(), bytes(s, pass));
    Shape perChannel = Shape.of(s.channels());
    Tensor x = random(c, s, l, 1), out = c.own(Tensor.zeros(s, l));
    Tensor g = vector(c, perChannel, 1.5f), b = vector(c, perChannel, 0.25f);
    Tensor rm = vector(c, perChannel, 0f), rv = vector(c, perChannel, 1f);
    Tensor mean = vector(c, perChannel, 0f), var = vector(c, perChannel, 0f);
    switch (pass) {
      case FORWARD_TRAINING:
        return c.call(() -> Functional.batchNorm(NATIVE, x, rm, rv, g, b, true, 0.1, EPS, out, mean, var));
      case FORWARD_INFERENCE:
        return c.call(() -> Functional.batchNorm(NATIVE, x, rm, rv, g, b, false, 0.1, EPS, out, null, null));
      default:
        Tensor dy = random(c, s, l, 2);
        Tensor dg = vector(c, perChannel, 0f), db = vector(c, perChannel, 0f);
        Functional.batchNorm(NATIVE, x, null, null, g, b, true, 0.1, EPS, out, mean, var);
        return c.call(() -> Functional.batchNormBackward(NATIVE, x, dy, g, mean, var, true, EPS, out, dg, db));
    }
  }

  static BenchCase instanceNorm(Shape s, Layout l, String pass) {
    BenchCase c = new BenchCase(INSTANCE_NORM, pass, l.cliName(), s.dims(), Map.of(), bytes(s, pass));
    Shape perChannel = Shape.of(s.channels());
    Shape stats = Functional.instanceNormStatisticsShape(s);
    Tensor x = random(c, s, l, 1), out = c.own(Tensor.zeros(s, l));
    Tensor g = vector(c, perChannel, 1.5f), b = vector(c, perChannel, 0.25f);
    Tensor rm = vector(c, perChannel, 0f), rv = vector(c, perChannel, 1f);
    Tensor mean = vector(c, stats, 0f), var = vector(c, stats, 0f);
    switch (pass) {
      case FORWARD_TRAINING:
        return c.call(() -> Functional.instanceNorm(NATIVE, x, rm, rv, g, b, true, 0.1, EPS, out, mean, var));
      case FORWARD_INFERENCE:
        return c.call(() -> Functional.instanceNorm(NATIVE, x, rm, rv, g, b, false, 0.1, EPS, out, null, null));
      default:
        Tensor dy = random(c, s, l, 2);
        Tensor dg = vector(c, perChannel, 0f), db = vector(c, perChannel, 0f);
        Functional.instanceNorm(NATIVE, x, null, null, g, b, true, 0.1, EPS, out, mean, var);
        return c.call(() -> Functional.instanceNormBackward(NATIVE, x, dy, g, mean, var, true, EPS, out, dg, db));
    }
  }

  static BenchCase groupNorm(Shape s, Layout l, String pass) {
    int groups = (int) Math.min(32, s.channels());
    BenchCase c = new BenchCase(GROUP_NORM, pass, l.cliName(), s.dims(), Map.of("groups", groups), bytes(s, pass));
    Shape perChannel = Shape.of(s.channels());
    Shape stats = Functional.groupNormStatisticsShape(s, groups);
    Tensor x = random(c, s, l, 1), out = c.own(Tensor.zeros(s, l));
    Tensor g = vector(c, perChannel, 1.5f), b = vector(c, perChannel, 0.25f);
    Tensor mean = vector(c, stats, 0f), var = vector(c, stats, 0f);
    if (!pass.equals(BACKWARD)) {
      return c.call(() -> Functional.groupNorm(NATIVE, x, groups, g, b, EPS, out, mean, var));
    }
    Tensor dy = random(c, s, l, 2);
    Tensor dg = vector(c, perChannel, 0f), db = vector(c, perChannel, 0f);
    Functional.groupNorm(NATIVE, x, groups, g, b, EPS, out, mean, var);
    return c.call(() -> Functional.groupNormBackward(NATIVE, x, dy, groups, g, mean, var, EPS, out, dg, db));
  }

  static BenchCase layerNorm(Shape s, Layout l, int normalizedDims, String pass) {
    Shape normalized = s.trailing(normalizedDims);
    BenchCase c = new BenchCase(LAYER_NORM, pass, l.cliName(), s.dims(),
        Map.of("normalized_shape", normalized.dims()), bytes(s, pass));
    Shape stats = Functional.layerNormStatisticsShape(s, normalized);
    Tensor x = random(c, s, l, 1), out = c.own(Tensor.zeros(s, l));
    Tensor g = vector(c, normalized, 1.5f), b = vector(c, normalized, 0.25f);
    Tensor mean = vector(c, stats, 0f), var = vector(c, stats, 0f);
    if (!pass.equals(BACKWARD)) {
      return c.call(() -> Functional.layerNorm(NATIVE, x, normalized, g, b, EPS, out, mean, var));
    }
    Tensor dy = random(c, s, l, 2);
    Tensor dg = vector(c, normalized, 0f), db = vector(c, normalized, 0f);
    Functional.layerNorm(NATIVE, x, normalized, g, b, EPS, out, mean, var);
    return c.call(() -> Functional.layerNormBackward(NATIVE, x, dy, normalized, g, mean, var, EPS, out, dg, db));
  }

  static BenchCase weightStandardization(Shape w, String pass) {
    WsVariant v = WsVariant.SEED;
    BenchCase c = new BenchCase(WEIGHT_STD, pass, Layout.CHANNELS_FIRST.cliName(), w.dims(),
        Map.of("variant", v.cliName()), bytes(w, pass));
    Shape perFilter = Shape.of(w.dim(0));
    Tensor x = random(c, w, Layout.CHANNELS_FIRST, 1), out = c.own(Tensor.zeros(w));
    Tensor mean = vector(c, perFilter, 0f), rstd = vector(c, perFilter, 0f);
    if (!pass.equals(BACKWARD)) {
      return c.call(() -> Functional.weightStandardize(NATIVE, x, v, v.defaultEps(), 1.0, null, out, mean, rstd));
    }
    Tensor dy = random(c, w, Layout.CHANNELS_FIRST, 2);
    Functional.weightStandardize(NATIVE, x, v, v.defaultEps(), 1.0, null, out, mean, rstd);
    return c.call(() -> Functional.weightStandardizeBackward(NATIVE, x, dy, v, v.defaultEps(), 1.0, null, mean, rstd,
        out, null));
  }

  /** StdConv2d: WS of a (64, C, 3, 3) weight, then a 3x3 convolution with padding 1 (output shape = input's HxW). */
  static BenchCase stdConv2d(Shape s, Layout l, String pass) {
    int out = 64, k = 3;
    Conv2dSpec spec = Conv2dSpec.of(1, 1, 1, 1);
    Shape wShape = Shape.of(out, s.channels(), k, k);
    Shape yShape = spec.outputShape(s, wShape);
    long bytes = pass.equals(BACKWARD)
        ? (2 * s.elementCount() + yShape.elementCount()) * Float.BYTES
        : (s.elementCount() + yShape.elementCount()) * Float.BYTES;
    BenchCase c = new BenchCase(STD_CONV2D, pass, l.cliName(), s.dims(),
        Map.of("out_channels", out, "kernel", k, "stride", 1, "padding", 1), bytes);
    WsVariant v = WsVariant.SEED;
    Shape perFilter = Shape.of(out);
    Tensor x = random(c, s, l, 1), w = random(c, wShape, Layout.CHANNELS_FIRST, 3);
    Tensor wHat = c.own(Tensor.zeros(wShape)), bias = vector(c, perFilter, 0.1f);
    Tensor mean = vector(c, perFilter, 0f), rstd = vector(c, perFilter, 0f);
    Tensor y = c.own(Tensor.zeros(yShape, l));
    if (!pass.equals(BACKWARD)) {
      return c.call(() -> {
        Functional.weightStandardize(NATIVE, w, v, v.defaultEps(), 1.0, null, wHat, mean, rstd);
        Functional.conv2d(NATIVE, x, wHat, bias, spec, y);
      });
    }
    Tensor dy = random(c, yShape, l, 2), dx = c.own(Tensor.zeros(s, l));
    Tensor dwHat = c.own(Tensor.zeros(wShape)), dw = c.own(Tensor.zeros(wShape)), db = vector(c, perFilter, 0f);
    Functional.weightStandardize(NATIVE, w, v, v.defaultEps(), 1.0, null, wHat, mean, rstd);
    return c.call(() -> {
      Functional.conv2dBackward(NATIVE, x, wHat, dy, spec, dx, dwHat, db);
      Functional.weightStandardizeBackward(NATIVE, w, dwHat, v, v.defaultEps(), 1.0, null, mean, rstd, dw, null);
    });
  }
}
