package dev.normkit.bench;

import dev.normkit.Backend;
import dev.normkit.BatchNorm;
import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Normkit;
import dev.normkit.Shape;
import dev.normkit.StdConv2d;
import dev.normkit.Tensor;
import dev.normkit.WeightStandardization;
import dev.normkit.WsVariant;
import dev.normkit.backend.dnnl.DnnlConvolution;
import dev.normkit.backend.dnnl.PrimitiveCache;
import dev.normkit.backend.kernels.NativeBatchNorm;
import dev.normkit.backend.kernels.NativeGroupNorm;
import dev.normkit.backend.kernels.NativeInstanceNorm;
import dev.normkit.backend.kernels.NativeLayerNorm;
import dev.normkit.backend.kernels.NativeWeightStandardization;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * Per-call overhead of the public API on latency-sized inputs: each case times the public call (a full
 * {@link Functional} form with caller-provided outputs, or a layer's {@code forward(x, y)}) and the bare call on the
 * same tensors (normkit's kernel called directly, or a oneDNN primitive executed with pre-bound memory), in the same
 * run, and reports the difference, the Java heap bytes the public call allocates, the native tensor bytes it leaves
 * behind and the primitives it creates once warm (both must be 0).
 */
public final class OverheadBench {
  private static final double EPS = 1e-5;
  private static final Backend NATIVE = Backend.NATIVE;

  private OverheadBench() {}

  /** One comparison: the public call and the bare call. */
  private record Case(String name, Runnable api, Runnable bare) {}

  /** Runs every case at {@code threads} threads; prints a table; returns the largest api - bare difference in ns. */
  public static double run(int threads, boolean quick, PrintStream out) {
    Normkit.setNumThreads(threads);
    // the bare oneDNN primitive fixes its thread count when created: create it under the requested count
    dev.normkit.backend.ThreadPolicy.apply();
    Stopwatch watch = quick ? new Stopwatch(20_000_000L, 100_000_000L, 200, 200_000)
        : new Stopwatch(200_000_000L, 1_500_000_000L, 2000, 2_000_000);
    List<Tensor> owned = new ArrayList<>();
    List<AutoCloseable> closers = new ArrayList<>();
    double worst = 0;
    try {
      List<Case> cases = cases(owned, closers);
      out.printf("%-46s %10s %10s %10s %12s %12s %10s%n", "case (threads " + threads + ")", "api_ns", "bare_ns",
          "diff_ns", "heap_B/call", "native_B", "created");
      for (Case c : cases) {
        // call by call in alternation: drift in the machine's speed (or a late warm-up) then cannot favour either side
        double[] medians = watch.alternatingMediansNs(c.bare, c.api);
        double bare = medians[0], api = medians[1];
        long misses = PrimitiveCache.global().misses();
        long nativeBytes = Tensor.liveNativeBytes();
        double heap = heapBytesPerCall(c.api, 10_000);
        long created = PrimitiveCache.global().misses() - misses;
        long leftBehind = Tensor.liveNativeBytes() - nativeBytes;
        out.printf("%-46s %10.0f %10.0f %10.0f %12.1f %12d %10d%n", c.name, api, bare, api - bare, heap, leftBehind,
            created);
        worst = Math.max(worst, api - bare);
      }
      out.printf("largest api - bare difference: %.0f ns%n", worst);
      return worst;
    } finally {
      for (AutoCloseable c : closers) {
        try {
          c.close();
        } catch (Exception ignored) {
          // closing benchmark fixtures cannot fail in a way that matters here
        }
      }
      owned.forEach(Tensor::close);
    }
  }

  private static List<Case> cases(List<Tensor> owned, List<AutoCloseable> closers) {
    List<Case> cases = new ArrayList<>();
    Shape tiny = Shape.of(1, 64, 7, 7);
    Shape perChannel = Shape.of(64);
    for (Layout l : Layout.values()) {
      Tensor x = random(owned, tiny, l, 1), dy = random(owned, tiny, l, 2), y = zeros(owned, tiny, l);
      Tensor g = filled(owned, perChannel, 1.5f), b = filled(owned, perChannel, 0.25f);
      Tensor m = zeros(owned, perChannel, Layout.CHANNELS_FIRST), v = filled(owned, perChannel, 1f);
      Tensor dg = zeros(owned, perChannel, Layout.CHANNELS_FIRST), db = zeros(owned, perChannel, Layout.CHANNELS_FIRST);
      String tag = " " + l.cliName() + " (1, 64, 7, 7)";
      cases.add(new Case("batch-norm forward-training" + tag,
          () -> Functional.batchNorm(NATIVE, x, null, null, g, b, true, 0.1, EPS, y, m, v),
          () -> NativeBatchNorm.INSTANCE.forwardTraining(x, g, b, EPS, y, m, v)));
      cases.add(new Case("batch-norm forward-inference" + tag,
          () -> Functional.batchNorm(NATIVE, x, m, v, g, b, false, 0.1, EPS, y, null, null),
          () -> NativeBatchNorm.INSTANCE.forwardInference(x, g, b, m, v, EPS, y)));
      cases.add(new Case("batch-norm backward" + tag,
          () -> Functional.batchNormBackward(NATIVE, x, dy, g, m, v, true, EPS, y, dg, db),
          () -> NativeBatchNorm.INSTANCE.backward(x, dy, g, m, v, EPS, false, y, dg, db)));
      BatchNorm layer = BatchNorm.builder(64).build().eval();
      closers.add(layer);
      cases.add(new Case("BatchNorm layer eval forward(x, y)" + tag, () -> layer.forward(x, y),
          () -> NativeBatchNorm.INSTANCE.forwardInference(x, layer.weight(), layer.bias(), layer.runningMean(),
              layer.runningVar(), EPS, y)));
      Shape groupStats = Shape.of(1, 32);
      Tensor gm = zeros(owned, groupStats, Layout.CHANNELS_FIRST), gv = filled(owned, groupStats, 1f);
      cases.add(new Case("group-norm forward" + tag,
          () -> Functional.groupNorm(NATIVE, x, 32, g, b, EPS, y, gm, gv),
          () -> NativeGroupNorm.INSTANCE.forward(x, 32, g, b, EPS, y, gm, gv)));
      cases.add(new Case("group-norm backward" + tag,
          () -> Functional.groupNormBackward(NATIVE, x, dy, 32, g, gm, gv, EPS, y, dg, db),
          () -> NativeGroupNorm.INSTANCE.backward(x, dy, 32, g, gm, gv, EPS, y, dg, db)));
      Shape instanceStats = Shape.of(1, 64);
      Tensor im = zeros(owned, instanceStats, Layout.CHANNELS_FIRST), iv = filled(owned, instanceStats, 1f);
      cases.add(new Case("instance-norm forward-training" + tag,
          () -> Functional.instanceNorm(NATIVE, x, null, null, g, b, true, 0.1, EPS, y, im, iv),
          () -> NativeInstanceNorm.INSTANCE.forwardTraining(x, g, b, EPS, y, im, iv)));
      cases.add(new Case("instance-norm backward" + tag,
          () -> Functional.instanceNormBackward(NATIVE, x, dy, g, im, iv, true, EPS, y, dg, db),
          () -> NativeInstanceNorm.INSTANCE.backward(x, dy, g, im, iv, EPS, false, y, dg, db)));
    }
    for (Layout l : Layout.values()) {
      // StdConv2d: the layer's forward(x, y) against the backends' own calls, WS kernel then oneDNN convolution
      Tensor x = random(owned, Shape.of(1, 64, 7, 7), l, 4), y = zeros(owned, Shape.of(1, 64, 7, 7), l);
      StdConv2d conv = StdConv2d.builder(64, 64, 3).padding(1).build();
      closers.add(conv);
      Tensor wMean = zeros(owned, Shape.of(64), Layout.CHANNELS_FIRST);
      Tensor wRstd = zeros(owned, Shape.of(64), Layout.CHANNELS_FIRST);
      WeightStandardization ws = conv.weightStandardization();
      cases.add(new Case("StdConv2d layer forward(x, y) " + l.cliName() + " (1, 64, 7, 7)",
          () -> conv.forward(x, y),
          () -> {
            NativeWeightStandardization.INSTANCE.forward(conv.weight(), ws.variant(), ws.eps(), 1.0, null,
                conv.standardizedWeight(), wMean, wRstd);
            DnnlConvolution.INSTANCE.forward(x, conv.standardizedWeight(), conv.bias(), conv.spec(), y);
          }));
    }
    for (Shape rows : List.of(Shape.of(1, 768), Shape.of(128, 768))) {
      Shape d = Shape.of(768), stats = Shape.of(rows.dim(0));
      Tensor x = random(owned, rows, Layout.CHANNELS_FIRST, 3), y = zeros(owned, rows, Layout.CHANNELS_FIRST);
      Tensor g = filled(owned, d, 1.5f), b = filled(owned, d, 0.25f);
      Tensor m = zeros(owned, stats, Layout.CHANNELS_FIRST), v = zeros(owned, stats, Layout.CHANNELS_FIRST);
      Runnable api = () -> Functional.layerNorm(NATIVE, x, d, g, b, EPS, y, m, v);
      Runnable bare;
      String via;
      if (dev.normkit.backend.routing.RoutedLayerNorm.kernelFor(x, 1) == NativeLayerNorm.INSTANCE) {
        bare = () -> NativeLayerNorm.INSTANCE.forward(x, 1, g, b, EPS, y, m, v);
        via = "normkit kernel";
      } else {
        BareLayerNorm primitive = new BareLayerNorm(x, g, b, y, m, v, EPS);
        closers.add(primitive);
        bare = primitive::run;
        via = "bare oneDNN execute";
      }
      cases.add(new Case("layer-norm forward " + rows + " vs " + via, api, bare));
      if (via.equals("normkit kernel")) {
        Tensor dy = random(owned, rows, Layout.CHANNELS_FIRST, 5), dx = zeros(owned, rows, Layout.CHANNELS_FIRST);
        Tensor dg = zeros(owned, d, Layout.CHANNELS_FIRST), db = zeros(owned, d, Layout.CHANNELS_FIRST);
        cases.add(new Case("layer-norm backward " + rows + " vs " + via,
            () -> Functional.layerNormBackward(NATIVE, x, dy, d, g, m, v, EPS, dx, dg, db),
            () -> NativeLayerNorm.INSTANCE.backward(x, dy, 1, g, m, v, EPS, dx, dg, db)));
      }
    }
    // weight standardization of the (256, 256, 3, 3) weights, the seed's variant
    Shape weights = Shape.of(256, 256, 3, 3), filters = Shape.of(256);
    Tensor w = random(owned, weights, Layout.CHANNELS_FIRST, 6), wHat = zeros(owned, weights, Layout.CHANNELS_FIRST);
    Tensor dwHat = random(owned, weights, Layout.CHANNELS_FIRST, 7), dw = zeros(owned, weights, Layout.CHANNELS_FIRST);
    Tensor wm = zeros(owned, filters, Layout.CHANNELS_FIRST), wr = zeros(owned, filters, Layout.CHANNELS_FIRST);
    cases.add(new Case("weight-std forward (256, 256, 3, 3)",
        () -> Functional.weightStandardize(NATIVE, w, WsVariant.SEED, EPS, 1.0, null, wHat, wm, wr),
        () -> NativeWeightStandardization.INSTANCE.forward(w, WsVariant.SEED, EPS, 1.0, null, wHat, wm, wr)));
    cases.add(new Case("weight-std backward (256, 256, 3, 3)",
        () -> Functional.weightStandardizeBackward(NATIVE, w, dwHat, WsVariant.SEED, EPS, 1.0, null, wm, wr, dw, null),
        () -> NativeWeightStandardization.INSTANCE.backward(w, dwHat, WsVariant.SEED, EPS, 1.0, null, wm, wr, dw,
            null)));
    return cases;
  }

  /** Java heap bytes allocated per call by this thread over {@code calls} calls. */
  private static double heapBytesPerCall(Runnable call, int calls) {
    com.sun.management.ThreadMXBean bean = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long id = Thread.currentThread().getId();
    long before = bean.getThreadAllocatedBytes(id);
    for (int i = 0; i < calls; i++) call.run();
    return (bean.getThreadAllocatedBytes(id) - before) / (double) calls;
  }

  private static Tensor random(List<Tensor> owned, Shape s, Layout l, long seed) {
    java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
    float[] v = new float[Math.toIntExact(s.elementCount())];
    for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 4 - 2);
    Tensor t = Tensor.of(v, s, l);
    owned.add(t);
    return t;
  }

  private static Tensor zeros(List<Tensor> owned, Shape s, Layout l) {
    Tensor t = Tensor.zeros(s, l);
    owned.add(t);
    return t;
  }

  private static Tensor filled(List<Tensor> owned, Shape s, float value) {
    Tensor t = zeros(owned, s, Layout.CHANNELS_FIRST);
    t.fill(value);
    return t;
  }
}
