package dev.normkit.cli;

import dev.normkit.Backend;
import dev.normkit.Conv2dSpec;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.WsVariant;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * {@code normkit demo}: the seed's example tensor x of shape (32, 64, 14, 14) (seeded standard normal values)
 * through every op, forward and backward, on the native backend and on the Java reference. Per op it prints the
 * largest relative difference between the two (max |native - java| / max |java| over each output tensor) and the
 * median time of each backend over a few repetitions after one warm-up run.
 */
final class DemoCommand {
  static final String USAGE =
      String.join("\n",
          "usage: normkit demo [--repeat R] [--seed S] [--layout nchw|nhwc]",
          "  runs every op on x = (32, 64, 14, 14) with the native backend and the Java reference; prints the",
          "  largest relative difference and the median time (ms) of each over R repetitions (default 5)",
          "");

  private static final Shape X = Shape.of(32, 64, 14, 14);
  private static final Shape FILTER = Shape.of(64, 32, 3, 3);
  private static final Shape CONV_FILTER = Shape.of(64, 64, 3, 3);

  /** One row: a name, how to make its inputs, and how to bind them to a backend. */
  private record Case(String name, Function<Random, OpInputs> inputs, BiFunction<Backend, OpInputs, OpExecution> op) {}

  /** One backend's run of a case: the outputs of one forward and one backward pass, and the median times. */
  private record Measured(List<float[]> forward, List<float[]> backward, double forwardMs, double backwardMs) {}

  private DemoCommand() {}

  /** Returns 0, or 1 when an op failed on a backend (said in its row and in one {@code error:} line). */
  static int run(List<String> args, PrintStream out, PrintStream err) {
    Options o = Options.parse(args, Set.of("--repeat", "--seed", "--layout"), Set.of(), "demo");
    int repeat = o.positiveInt("--repeat", 5);
    long seed = o.positiveInt("--seed", 1);
    Layout layout = o.parsed("--layout", Layout::parse, Layout.CHANNELS_FIRST);
    out.printf(Locale.ROOT, "x = %s %s, %d repetitions after a warm-up; times are medians in ms%n", X,
        layout.cliName(), repeat);
    out.printf(Locale.ROOT, "%-34s %12s %12s %10s %10s %10s %10s%n", "op", "fwd rel diff", "bwd rel diff",
        "native fwd", "java fwd", "native bwd", "java bwd");
    int failed = 0;
    List<Case> cases = cases(layout);
    for (Case c : cases) {
      try (OpInputs in = c.inputs.apply(new Random(seed))) {
        Measured nat = null, ref = null;
        String problem = null;
        try {
          ref = measure(c, Backend.JAVA, in, repeat);
          nat = measure(c, Backend.NATIVE, in, repeat);
        } catch (RuntimeException e) {
          problem = (ref == null ? "java" : "native") + ": " + e;
          failed++;
        }
        out.printf(Locale.ROOT, "%-34s %12s %12s %10s %10s %10s %10s%n", c.name,
            nat != null ? relative(nat.forward, ref.forward) : "-",
            nat != null ? relative(nat.backward, ref.backward) : "-",
            nat != null ? millis(nat.forwardMs) : "failed", ref != null ? millis(ref.forwardMs) : "failed",
            nat != null ? millis(nat.backwardMs) : "failed", ref != null ? millis(ref.backwardMs) : "failed");
        if (problem != null) out.println("    " + problem);
      }
    }
    if (failed == 0) return 0;
    err.println("error: " + failed + " of " + cases.size() + " ops failed on a backend (see their rows)");
    return 1;
  }

  private static Measured measure(Case c, Backend backend, OpInputs in, int repeat) {
    try (OpExecution e = c.op.apply(backend, in)) {
      e.forward();
      e.backward();
      List<float[]> forward = arrays(e.forwardOutputs()), backward = arrays(e.backwardOutputs());
      double[] f = new double[repeat], b = new double[repeat];
      for (int i = 0; i < repeat; i++) {
        long t0 = System.nanoTime();
        e.forward();
        long t1 = System.nanoTime();
        e.backward();
        long t2 = System.nanoTime();
        f[i] = (t1 - t0) / 1e6;
        b[i] = (t2 - t1) / 1e6;
      }
      return new Measured(forward, backward, median(f), median(b));
    }
  }

  private static List<Case> cases(Layout layout) {
    List<Case> cases = new ArrayList<>();
    Shape perChannel = Shape.of(X.channels());
    Function<Random, OpInputs> affine = r -> activation(r, layout, perChannel.elementCount(), perChannel);
    cases.add(new Case("batch-norm train", r -> withDefaultRunningStats(affine.apply(r)),
        (b, in) -> new BatchOrInstanceNormExecution(b, in, false, true, 0.1, 1e-5, true)));
    cases.add(new Case("batch-norm eval", r -> withRunningStats(r, affine.apply(r)),
        (b, in) -> new BatchOrInstanceNormExecution(b, in, false, false, 0.1, 1e-5, true)));
    Shape chw = Shape.of(64, 14, 14), hw = Shape.of(14, 14);
    cases.add(new Case("layer-norm (64, 14, 14)", r -> activation(r, layout, chw.elementCount(), chw),
        (b, in) -> new LayerNormExecution(b, in, chw, 1e-5, true)));
    cases.add(new Case("layer-norm (14, 14)", r -> activation(r, layout, hw.elementCount(), hw),
        (b, in) -> new LayerNormExecution(b, in, hw, 1e-5, true)));
    for (int groups : new int[] {4, 32}) {
      cases.add(new Case("group-norm G=" + groups, affine,
          (b, in) -> new GroupNormExecution(b, in, groups, 1e-5, true)));
    }
    cases.add(new Case("instance-norm", affine,
        (b, in) -> new BatchOrInstanceNormExecution(b, in, true, true, 0.1, 1e-5, true)));
    for (WsVariant v : WsVariant.values()) {
      cases.add(new Case("weight-std " + v.cliName() + " " + FILTER, r -> filter(r, layout, v),
          (b, in) -> new WeightStandardizationExecution(b, in, v, v.defaultEps(), 1.0, true)));
    }
    Conv2dSpec same = Conv2dSpec.defaults().withPadding(1);
    cases.add(new Case("std-conv2d bn " + CONV_FILTER + " pad 1", r -> convolution(r, layout),
        (b, in) -> new StdConv2dExecution(b, in, same, WsVariant.BATCH_NORM_STYLE,
            WsVariant.BATCH_NORM_STYLE.defaultEps(), 1.0, true)));
    return cases;
  }

  /** x and dy of shape X, and an affine weight and bias of {@code params} values in {@code paramShape}. */
  private static OpInputs activation(Random r, Layout layout, long params, Shape paramShape) {
    OpInputs in = new OpInputs();
    in.x = normal(r, X, layout, 0, 1);
    in.gradOutput = normal(r, X, layout, 0, 1);
    in.weight = Tensor.of(uniform(r, params, 0.5, 1.5), paramShape, Layout.CHANNELS_FIRST);
    in.bias = normal(r, paramShape, Layout.CHANNELS_FIRST, 0, 0.1);
    return in;
  }

  private static OpInputs withDefaultRunningStats(OpInputs in) {
    int c = (int) X.channels();
    float[] ones = new float[c];
    Arrays.fill(ones, 1f);
    in.runningMean = Tensor.zeros(Shape.of(c));
    in.runningVar = Tensor.vector(ones);
    return in;
  }

  private static OpInputs withRunningStats(Random r, OpInputs in) {
    in.runningMean = normal(r, Shape.of(X.channels()), Layout.CHANNELS_FIRST, 0, 0.1);
    in.runningVar = Tensor.vector(uniform(r, X.channels(), 0.5, 1.5));
    return in;
  }

  /** A filter (64, 32, 3, 3) as the input, its gradient, and a gain for SCALED. */
  private static OpInputs filter(Random r, Layout layout, WsVariant variant) {
    OpInputs in = new OpInputs();
    in.x = normal(r, FILTER, layout, 0, 0.1);
    in.gradOutput = normal(r, FILTER, layout, 0, 1);
    if (variant == WsVariant.SCALED) in.gain = Tensor.vector(uniform(r, FILTER.dim(0), 0.5, 1.5));
    return in;
  }

  /** x (32, 64, 14, 14), a raw filter (64, 64, 3, 3), a bias and dy of the padded convolution's output shape. */
  private static OpInputs convolution(Random r, Layout layout) {
    OpInputs in = new OpInputs();
    in.x = normal(r, X, layout, 0, 1);
    in.weight = normal(r, CONV_FILTER, Layout.CHANNELS_FIRST, 0, 0.1);
    in.bias = normal(r, Shape.of(CONV_FILTER.dim(0)), Layout.CHANNELS_FIRST, 0, 0.1);
    in.gradOutput = normal(r, Shape.of(X.batch(), CONV_FILTER.dim(0), X.dim(2), X.dim(3)), layout, 0, 1);
    return in;
  }

  private static Tensor normal(Random r, Shape shape, Layout layout, double mean, double std) {
    float[] a = new float[Math.toIntExact(shape.elementCount())];
    for (int i = 0; i < a.length; i++) a[i] = (float) (mean + std * r.nextGaussian());
    return Tensor.of(a, shape, layout);
  }

  private static float[] uniform(Random r, long n, double lo, double hi) {
    float[] a = new float[Math.toIntExact(n)];
    for (int i = 0; i < a.length; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
    return a;
  }

  private static List<float[]> arrays(List<Tensor> tensors) {
    List<float[]> arrays = new ArrayList<>();
    for (Tensor t : tensors) arrays.add(t.toArray());
    return arrays;
  }

  /** The largest over the tensors of max |a - e| / max |e|. */
  static String relative(List<float[]> actual, List<float[]> expected) {
    double worst = 0;
    for (int t = 0; t < expected.size(); t++) {
      float[] a = actual.get(t), e = expected.get(t);
      double scale = 0, diff = 0;
      for (int i = 0; i < e.length; i++) {
        scale = Math.max(scale, Math.abs(e[i]));
        diff = Math.max(diff, Math.abs((double) a[i] - e[i]));
        if (Float.isNaN(a[i]) != Float.isNaN(e[i])) diff = Double.POSITIVE_INFINITY;
      }
      worst = Math.max(worst, diff / Math.max(scale, Double.MIN_NORMAL));
    }
    return String.format(Locale.ROOT, "%.2e", worst);
  }

  private static String millis(double ms) {
    return String.format(Locale.ROOT, "%.3f", ms);
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
}
