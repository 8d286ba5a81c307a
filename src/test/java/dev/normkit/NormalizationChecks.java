package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.backend.kernels.NormkitKernels.Isa;
import java.util.ArrayList;
import java.util.List;

/**
 * The native-vs-reference checks every normalization test shares: training forward (y, mean, var), backward from the
 * reference's saved statistics (dx, dgamma, dbeta in every wanted combination), and bit-exact statistics on exact
 * inputs; and, for normkit's own kernels, the same in every {@link Config} (ISA and thread count) with a
 * reproducibility check, and NaN propagation. An {@link Op} says how to call one normalization and how to bound its
 * errors ({@link NormBounds}).
 */
final class NormalizationChecks {
  private NormalizationChecks() {}

  /** One normalization configured for one input shape (e.g. layer norm over two trailing dims). */
  interface Op {
    /** Names the op's error categories, e.g. "LN". */
    String name();

    /** What a failure message adds to the case, e.g. " groups 4". */
    String detail();

    Shape parameters(Shape x);

    Shape statistics(Shape x);

    void forward(Backend backend, Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor var);

    void backward(
        Backend backend, Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor var, Tensor dx, Tensor dgamma,
        Tensor dbeta);

    NormBounds bounds(Tensor x, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var);
  }

  /** An op's bounds in units of u * magnitude (NormBounds), as measured and stated by its test. */
  record Tolerances(double y, double mean, double var, double dx, double parameterGradients) {}

  static void forwardMatchesReference(Op op, NormCase c, Tolerances k) {
    Shape params = op.parameters(c.shape()), stats = op.statistics(c.shape());
    String detail = c + op.detail();
    try (Tensor x = c.x();
        Tensor g = c.gamma(params);
        Tensor b = c.beta(params);
        BackendPair y = BackendPair.of(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(stats);
        BackendPair var = BackendPair.of(stats)) {
      for (Backend backend : Backend.values()) {
        op.forward(backend, x, g, b, y.get(backend), mean.get(backend), var.get(backend));
      }
      NormBounds bounds = op.bounds(x, null, g, b, mean.get(Backend.JAVA), var.get(Backend.JAVA));
      y.assertWithin(op.name() + " y", detail, bounds.y(), k.y());
      mean.assertWithin(op.name() + " mean", detail, bounds.mean(), k.mean());
      var.assertWithin(op.name() + " var", detail, bounds.variance(), k.var());
    }
  }

  /** Backward from the reference's saved statistics, for each of the case's wanted parameter gradients. */
  static void backwardMatchesReference(Op op, NormCase c, Tolerances k) {
    Shape params = op.parameters(c.shape()), stats = op.statistics(c.shape());
    try (Tensor x = c.x();
        Tensor dy = c.dy();
        Tensor g = c.gamma(params);
        Tensor b = c.beta(params);
        Tensor y = Tensor.empty(c.shape(), c.layout());
        Tensor mean = Tensor.empty(stats, Layout.CHANNELS_FIRST);
        Tensor var = Tensor.empty(stats, Layout.CHANNELS_FIRST)) {
      op.forward(Backend.JAVA, x, g, b, y, mean, var);
      NormBounds bounds = op.bounds(x, dy, g, b, mean, var);
      for (boolean[] want : c.parameterGradients()) {
        String detail = c + op.detail() + " dgamma " + want[0] + " dbeta " + want[1];
        try (BackendPair dx = BackendPair.of(c.shape(), c.layout());
            BackendPair dg = BackendPair.optional(want[0], params);
            BackendPair db = BackendPair.optional(want[1], params)) {
          for (Backend backend : Backend.values()) {
            op.backward(backend, x, dy, g, mean, var, dx.get(backend), BackendPair.get(dg, backend),
                BackendPair.get(db, backend));
          }
          dx.assertWithin(op.name() + " dx", detail, bounds.dxTraining(), k.dx());
          BackendPair.assertWithin(dg, op.name() + " dgamma", detail, bounds.dgamma(), k.parameterGradients());
          BackendPair.assertWithin(db, op.name() + " dbeta", detail, bounds.dbeta(), k.parameterGradients());
        }
      }
    }
  }

  /**
   * benchdnn's exact inputs (multiples of 0.25) over sets of a power-of-two number of values: the sums, the mean,
   * the deviations and their squares are all exact in float32, so mean and var must match bit for bit.
   */
  static void exactInputsGiveExactStatistics(Op op, NormCase c) {
    Shape stats = op.statistics(c.shape());
    try (Tensor x = c.x();
        Tensor y = Tensor.empty(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(stats);
        BackendPair var = BackendPair.of(stats)) {
      for (Backend backend : Backend.values()) {
        op.forward(backend, x, null, null, y, mean.get(backend), var.get(backend));
      }
      mean.assertClose(op.name() + " exact mean", c + op.detail(), 0);
      var.assertClose(op.name() + " exact var", c + op.detail(), 0);
    }
  }

  // ------------------------------------------------------------------ normkit's kernels in every configuration

  /** One configuration of normkit's kernels: an ISA cap and an OpenMP thread count. */
  record Config(Isa isa, int threads) {
    @Override
    public String toString() {
      return isa + " " + threads + (threads == 1 ? " thread" : " threads");
    }
  }

  /** Every ISA this CPU runs, each with 1 and 2 OpenMP threads. */
  static List<Config> configs() {
    List<Config> configs = new ArrayList<>();
    for (Isa isa : IsaCap.supported()) {
      for (int threads : new int[] {1, 2}) configs.add(new Config(isa, threads));
    }
    return configs;
  }

  /**
   * The configurations that differ for a tensor of this shape: every ISA, and 1 and 2 threads only from the size at
   * which the kernels start using threads (PARALLEL_ELEMENTS; below it they run on the calling thread whatever the
   * setting).
   */
  static List<Config> configs(Shape shape) {
    if (shape.elementCount() >= PARALLEL_ELEMENTS) return configs();
    return configs().stream().filter(c -> c.threads() == 1).toList();
  }

  /**
   * The size from which kernels use threads in the test suite: NORMKIT_PARALLEL_THRESHOLD, which pom.xml sets for
   * the tests (the defaults of native/src/set_primitives.h, 2^20 and 2^22 elements, are larger than most test shapes).
   */
  static final long PARALLEL_ELEMENTS = parallelElements();

  private static long parallelElements() {
    String v = System.getenv("NORMKIT_PARALLEL_THRESHOLD");
    return v == null ? 1L << 20 : Long.parseLong(v.trim());
  }

  /** A configuration in effect until closed; the ISA cap and the thread count in effect before are restored. */
  static final class ConfigScope implements AutoCloseable {
    private final IsaCap cap;
    private final int threads = Normkit.numThreads();

    ConfigScope(Config config) {
      cap = new IsaCap(config.isa());
      Normkit.setNumThreads(config.threads());
    }

    @Override
    public void close() {
      Normkit.setNumThreads(threads);
      cap.close();
    }
  }

  /**
   * normkit's kernels, through {@link Backend#NATIVE} (callers pick cases that NATIVE routes to them), in every
   * {@link #configs() configuration} against the reference computed once: the training forward (y, mean, var;
   * with {@code exactStatistics}, exact inputs over power-of-two sets, mean and var bit for bit) and the backward
   * (dx with dgamma and dbeta, and dx alone). Each configuration runs twice and must give the same bits: results are
   * reproducible for a given thread count.
   */
  static void everyConfigurationMatchesReference(Op op, NormCase c, Tolerances k, boolean exactStatistics) {
    Shape params = op.parameters(c.shape()), stats = op.statistics(c.shape());
    try (Tensor x = c.x();
        Tensor dy = c.dy();
        Tensor g = c.gamma(params);
        Tensor b = c.beta(params);
        BackendPair y = BackendPair.nativeOnly(c.shape(), c.layout());
        BackendPair mean = BackendPair.nativeOnly(true, stats);
        BackendPair var = BackendPair.nativeOnly(true, stats)) {
      op.forward(Backend.JAVA, x, g, b, y.get(Backend.JAVA), mean.get(Backend.JAVA), var.get(Backend.JAVA));
      NormBounds bounds = op.bounds(x, dy, g, b, mean.get(Backend.JAVA), var.get(Backend.JAVA));
      for (Config config : configs(c.shape())) {
        String detail = c + op.detail() + " " + config;
        try (ConfigScope scope = new ConfigScope(config)) {
          float[][] first = null;
          for (int run = 0; run < 2; run++) {
            BackendPair.resetNative(y);
            BackendPair.resetNative(mean);
            BackendPair.resetNative(var);
            op.forward(Backend.NATIVE, x, g, b, y.get(Backend.NATIVE), mean.get(Backend.NATIVE), var.get(Backend.NATIVE));
            float[][] outputs = nativeValues(y, mean, var);
            if (first != null) {
              assertReproducible(op.name() + " forward", detail, first, outputs);
              continue;
            }
            first = outputs;
            y.assertWithin(op.name() + " y", detail, bounds.y(), k.y());
            if (exactStatistics) {
              mean.assertClose(op.name() + " exact mean", detail, 0);
              var.assertClose(op.name() + " exact var", detail, 0);
            } else {
              mean.assertWithin(op.name() + " mean", detail, bounds.mean(), k.mean());
              var.assertWithin(op.name() + " var", detail, bounds.variance(), k.var());
            }
          }
        }
      }
      for (boolean want : c.affine() ? new boolean[] {true, false} : new boolean[] {false}) {
        backwardEveryConfiguration(op, c, k, x, dy, g, mean.get(Backend.JAVA), var.get(Backend.JAVA), bounds, want);
      }
    }
  }

  private static void backwardEveryConfiguration(
      Op op, NormCase c, Tolerances k, Tensor x, Tensor dy, Tensor g, Tensor mean, Tensor var, NormBounds bounds,
      boolean parameterGradients) {
    Shape params = op.parameters(c.shape());
    try (BackendPair dx = BackendPair.nativeOnly(c.shape(), c.layout());
        BackendPair dg = BackendPair.nativeOnly(parameterGradients, params);
        BackendPair db = BackendPair.nativeOnly(parameterGradients, params)) {
      op.backward(Backend.JAVA, x, dy, g, mean, var, dx.get(Backend.JAVA), BackendPair.get(dg, Backend.JAVA),
          BackendPair.get(db, Backend.JAVA));
      for (Config config : configs(c.shape())) {
        String detail = c + op.detail() + " " + config + " dgamma/dbeta " + parameterGradients;
        try (ConfigScope scope = new ConfigScope(config)) {
          float[][] first = null;
          for (int run = 0; run < 2; run++) {
            BackendPair.resetNative(dx);
            BackendPair.resetNative(dg);
            BackendPair.resetNative(db);
            op.backward(Backend.NATIVE, x, dy, g, mean, var, dx.get(Backend.NATIVE), BackendPair.get(dg, Backend.NATIVE),
                BackendPair.get(db, Backend.NATIVE));
            float[][] outputs = nativeValues(dx, dg, db);
            if (first != null) {
              assertReproducible(op.name() + " backward", detail, first, outputs);
              continue;
            }
            first = outputs;
            dx.assertWithin(op.name() + " dx", detail, bounds.dxTraining(), k.dx());
            BackendPair.assertWithin(dg, op.name() + " dgamma", detail, bounds.dgamma(), k.parameterGradients());
            BackendPair.assertWithin(db, op.name() + " dbeta", detail, bounds.dbeta(), k.parameterGradients());
          }
        }
      }
    }
  }

  private static float[][] nativeValues(BackendPair... pairs) {
    float[][] values = new float[pairs.length][];
    for (int i = 0; i < pairs.length; i++) values[i] = BackendPair.nativeValues(pairs[i]);
    return values;
  }

  private static void assertReproducible(String what, String detail, float[][] first, float[][] second) {
    for (int i = 0; i < first.length; i++) {
      if (first[i] == null) continue;
      int[] a = new int[first[i].length], b = new int[second[i].length];
      for (int j = 0; j < a.length; j++) {
        a[j] = Float.floatToRawIntBits(first[i][j]);
        b[j] = Float.floatToRawIntBits(second[i][j]);
      }
      assertArrayEquals(a, b, what + " output " + i + " differs between two runs: " + detail);
    }
  }

  /**
   * One NaN in x (forward) or in dy (backward, from the clean forward's statistics) makes NaN exactly the outputs the
   * reference makes NaN, in every configuration of normkit's kernels; the others stay within 1e-5 of the tensor's
   * scale (a loose bound: accuracy is checked elsewhere; this checks where NaN goes).
   */
  static void nanPropagates(Op op, NormCase c, int nanIndex) {
    Shape params = op.parameters(c.shape()), stats = op.statistics(c.shape());
    float[] xs, dys;
    try (Tensor x0 = c.x();
        Tensor dy0 = c.dy()) {
      xs = x0.toArray();
      dys = dy0.toArray();
    }
    float[] nanXs = xs.clone(), nanDys = dys.clone();
    nanXs[nanIndex] = Float.NaN;
    nanDys[nanIndex] = Float.NaN;
    try (Tensor x = Tensor.of(xs, c.shape(), c.layout());
        Tensor nanX = Tensor.of(nanXs, c.shape(), c.layout());
        Tensor nanDy = Tensor.of(nanDys, c.shape(), c.layout());
        Tensor g = c.gamma(params);
        Tensor b = c.beta(params);
        Tensor y = Tensor.empty(c.shape(), c.layout());
        Tensor mean = Tensor.empty(stats, Layout.CHANNELS_FIRST);
        Tensor var = Tensor.empty(stats, Layout.CHANNELS_FIRST);
        BackendPair ny = BackendPair.nativeOnly(c.shape(), c.layout());
        BackendPair nmean = BackendPair.nativeOnly(true, stats);
        BackendPair nvar = BackendPair.nativeOnly(true, stats);
        BackendPair dx = BackendPair.nativeOnly(c.shape(), c.layout());
        BackendPair dg = BackendPair.nativeOnly(c.affine(), params);
        BackendPair db = BackendPair.nativeOnly(c.affine(), params)) {
      op.forward(Backend.JAVA, nanX, g, b, ny.get(Backend.JAVA), nmean.get(Backend.JAVA), nvar.get(Backend.JAVA));
      op.forward(Backend.JAVA, x, g, b, y, mean, var);
      op.backward(Backend.JAVA, x, nanDy, g, mean, var, dx.get(Backend.JAVA), BackendPair.get(dg, Backend.JAVA),
          BackendPair.get(db, Backend.JAVA));
      float[] expectedY = ny.get(Backend.JAVA).toArray();
      assertTrue(Float.isNaN(expectedY[nanIndex]) && countNaN(expectedY) < expectedY.length,
          "the reference makes some but not all of y NaN: " + c);
      for (Config config : configs(c.shape())) {
        String detail = c + op.detail() + " NaN at " + nanIndex + " " + config;
        try (ConfigScope scope = new ConfigScope(config)) {
          op.forward(Backend.NATIVE, nanX, g, b, ny.get(Backend.NATIVE), nmean.get(Backend.NATIVE),
              nvar.get(Backend.NATIVE));
          op.backward(Backend.NATIVE, x, nanDy, g, mean, var, dx.get(Backend.NATIVE), BackendPair.get(dg, Backend.NATIVE),
              BackendPair.get(db, Backend.NATIVE));
        }
        ny.assertClose(op.name() + " NaN y", detail, 1e-5);
        nmean.assertClose(op.name() + " NaN mean", detail, 1e-5);
        nvar.assertClose(op.name() + " NaN var", detail, 1e-5);
        dx.assertClose(op.name() + " NaN dx", detail, 1e-5);
        BackendPair.assertClose(dg, op.name() + " NaN dgamma", detail, 1e-5);
        BackendPair.assertClose(db, op.name() + " NaN dbeta", detail, 1e-5);
      }
    }
  }

  private static int countNaN(float[] values) {
    int n = 0;
    for (float v : values) if (Float.isNaN(v)) n++;
    return n;
  }
}
