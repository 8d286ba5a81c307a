package dev.normkit.backend.dnnl;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Conv2dSpec;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ConvolutionKernel;
import dev.normkit.backend.ThreadPolicy;
import dev.normkit.backend.kernels.NormkitKernels;
import java.util.Locale;
import java.util.function.Supplier;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * 2-D convolution on oneDNN's {@code convolution} primitives (direct algorithm): forward, backward data and backward
 * weights (with or without the bias gradient).
 *
 * <p>Channels-last (NHWC) activations are used in place. Channels-first (NCHW) ones run through the same
 * channels-last kernels: inputs are transposed into, and outputs out of, buffers pooled with the primitive, by
 * normkit's own transpose ({@link NormkitKernels#transposeImages}). oneDNN 3.11 wraps its NHWC kernel with reorders
 * for NCHW itself, and they cost more than the convolution's difference: 3x3, pad 1, forward, median ms on 1 / 2
 * threads of a 2-core Zen 5 VM, oneDNN on NCHW against NHWC (the transposes add 0.06 + 0.06 ms at (32, 64, 14, 14),
 * 2.8 + 0.3 ms at (8, 256, 56, 56) on 1 thread): (32, 64, 14, 14) -> 64 2.67 / 1.69 against 2.18 / 1.32; (8, 256, 56,
 * 56) -> 64 50.5 / 25.9 against 42.7 / 21.8; (32, 32, 14, 14) -> 64 1.74 / 0.81 against 1.21 / 0.61; (1, 64, 7, 7) ->
 * 64 0.026 / 0.033 against 0.022 / 0.018; (8, 3, 224, 224) -> 64, 7x7 stride 2: 14.9 / 8.9 against 11.3 / 6.0.
 * Activations whose two layouts coincide (C = 1, or 1x1 spatial) need no transpose. The weight's format is left
 * to oneDNN ({@code format_tag_any}): with the plain OIHW format oneDNN 3.11 only has its reference kernel, hundreds
 * of times slower than the blocked-weight ones it picks otherwise (brgemm, jit). Each call therefore reorders w into
 * the chosen format (dw out of it) with a cached reorder primitive into a buffer pooled with that primitive (no
 * allocation per call once warm): a copy of the weight, small beside the activations.
 *
 * <p>oneDNN's conventions differ from PyTorch's in two places: groups are expressed by a 5-D weight (G, O/G, C/G,
 * kH, kW) over the same memory, and oneDNN's dilation is PyTorch's minus one (0 = dense kernel).
 */
public final class DnnlConvolution implements ConvolutionKernel {
  public static final DnnlConvolution INSTANCE = new DnnlConvolution();

  private enum Pass { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

  /**
   * What a convolution primitive depends on: the pass, the shapes, the memory layouts of activations (x and y may
   * differ only when one of them is a shape whose layouts coincide) and weight, the geometry and the bias.
   */
  private record Key(
      Pass pass,
      Shape x,
      Layout xLayout,
      Shape w,
      Layout wLayout,
      Layout yLayout,
      Conv2dSpec spec,
      boolean bias) {
    Shape y() {
      return spec.outputShape(x, w);
    }

    boolean matches(
        Pass pass, Shape x, Layout xLayout, Shape w, Layout wLayout, Layout yLayout, Conv2dSpec spec, boolean bias) {
      return this.pass == pass && this.xLayout == xLayout && this.wLayout == wLayout && this.yLayout == yLayout
          && this.bias == bias && this.x.equals(x) && this.w.equals(w) && this.spec.equals(spec);
    }
  }

  /**
   * What a call of one configuration needs besides its tensors, built once: the cache keys of the convolution and of
   * its weight reorder (with their thread counts) and their factories. Each thread keeps its most recent plans, so
   * that a warm call allocates nothing (a key, its thread count and two factories per call were 424 bytes).
   */
  private static final class Plan {
    final Key key;
    /** The thread count requested when the plan was made (the plan is stale once the request changes). */
    final int requested;
    /** Keyed with the threads they run on ({@link #threadsFor}). */
    final PrimitiveCache.ThreadedKey convolution, reorder;
    final Supplier<DnnlPrimitive> createConvolution, createReorder;

    Plan(Key key) {
      this.key = key;
      this.requested = ThreadPolicy.threads();
      int threads = threadsFor(key, requested);
      this.convolution = new PrimitiveCache.ThreadedKey(key, threads);
      this.reorder = new PrimitiveCache.ThreadedKey(new WeightReorderKey(key), threads);
      this.createConvolution = () -> create(key);
      this.createReorder = () -> createWeightReorder(key);
    }

    DnnlPrimitive acquireConvolution() {
      return PrimitiveCache.global().acquire(convolution, createConvolution);
    }

    /**
     * Runs the convolution on its arguments in creation order ({@code d} null for three), channels-first activations
     * staged in channels-last buffers: the source (and, for backward weights, the second argument, dy) transposed in
     * before, the destination activation transposed out after.
     */
    void convolve(Tensor a, Tensor b, Tensor c, Tensor d) {
      DnnlPrimitive conv = acquireConvolution();
      // forward and backward data write an activation, their last argument; backward weights reads two (x, dy)
      boolean weights = key.pass == Pass.BACKWARD_WEIGHTS;
      int outPosition = d == null ? 2 : 3;
      Tensor out = weights ? null : d == null ? c : d;
      Tensor stagedA = a, stagedB = b, stagedOut = out;
      try {
        stagedA = stagedIn(conv, 0, a);
        if (weights) stagedB = stagedIn(conv, 1, b);
        if (out != null && staged(out)) stagedOut = conv.borrowBuffer(outPosition);
        if (d == null) conv.execute(stagedA, stagedB, weights ? c : stagedOut);
        else conv.execute(stagedA, stagedB, c, weights ? d : stagedOut);
        if (stagedOut != out) toChannelsFirst(stagedOut, out);
      } finally {
        if (stagedA != a) conv.recycle(0, stagedA);
        if (stagedB != b) conv.recycle(1, stagedB);
        if (stagedOut != out) conv.recycle(outPosition, stagedOut);
        conv.release();
      }
    }

    DnnlPrimitive acquireReorder() {
      return PrimitiveCache.global().acquire(reorder, createReorder);
    }
  }

  /** Whether an activation is channels-first in memory (and so runs through a channels-last copy). */
  private static boolean staged(Tensor t) {
    return t.layout() == Layout.CHANNELS_FIRST && !Layout.layoutsCoincide(t.shape()) && t.elementCount() > 0;
  }

  /** The argument at {@code position}: {@code t} itself, or a pooled channels-last copy of a channels-first t. */
  private static Tensor stagedIn(DnnlPrimitive conv, int position, Tensor t) {
    if (!staged(t)) return t;
    Tensor buffer = conv.borrowBuffer(position);
    relayout(t, buffer, t.shape(), true);
    return buffer;
  }

  /** Writes a channels-last result back into the channels-first activation {@code t}. */
  private static void toChannelsFirst(Tensor channelsLast, Tensor t) {
    relayout(channelsLast, t, t.shape(), false);
  }

  /**
   * Copies an activation of logical shape (N, C, spatial...) from channels-first into channels-last order
   * ({@code toChannelsLast}), or back: a C x S transpose per image either way.
   */
  private static void relayout(Tensor from, Tensor to, Shape shape, boolean toChannelsLast) {
    long n = shape.dim(0), c = shape.dim(1), s = shape.elementCount() / (n * c);
    NormkitKernels.transposeImages(from, to, n, toChannelsLast ? c : s, toChannelsLast ? s : c);
  }

  /** Below this many flops a convolution with few output positions runs on one thread ({@link #threadsFor}). */
  private static final double ONE_THREAD_BELOW_FLOPS = 8e6;

  /** ... if it also has fewer output positions (N * OH * OW) than this. */
  private static final long ONE_THREAD_BELOW_POSITIONS = 1024;

  /**
   * The threads a convolution (and its weight reorder) runs on: one for a small convolution with few output positions
   * (under 8 MFLOP and 1024 positions), else the requested count. Measured through the API (each pass's weight
   * reorder included, as every call makes it), channels-last 3x3 pad 1, us on 1 / 2 warm threads, 1- and 2-thread
   * blocks alternating in one process, forward and backward (data and weights) per call: (1, 16, 7, 7) -> 16, 0.2
   * MFLOP: 4.0 / 16.7 and 8.0 / 27.8; (4, 16, 7, 7) -> 16: 11.2 / 20.7 and 16.7 / 45.9; (1, 32, 8, 8) -> 32: 10.2 /
   * 22.7 and 21.5 / 45.0; (1, 64, 4, 4) -> 64: 19.5 / 40.7 and 45.1 / 82.0; (1, 64, 7, 7) -> 64, 3.6 MFLOP: 33.6 /
   * 31.5 and 75.0 / 87.2, and in StdConv2d, whose weight comes fresh from the standardization on the calling thread,
   * 36.6 / 55.9 and 79.4 / 106.0. Many positions keep both threads busy even when small: (2, 1, 28, 28) -> 32, 0.9
   * MFLOP and 1568 positions (the training example's first convolution at batch 2): 15.6 / 16.2 and 93.2 / 82.6. From
   * about 15 MFLOP 2 threads win: (2, 32, 14, 14) -> 64, in StdConv2d, 80 / 73 and 166 / 127; (1, 64, 56, 56) -> 64,
   * 1280 / 658 and 2793 / 1407. (oneDNN called directly, without the reorder and with a hot weight, had shown 2
   * threads ahead down to 1 MFLOP: (1, 64, 7, 7) 14 / 8.5 us forward.)
   */
  private static int threadsFor(Key key, int requested) {
    return threadsFor(key.y(), key.w, requested);
  }

  /** {@link #threadsFor(Key, int)} for output shape y (N, O, OH, OW) and weight w (O, C / groups, kH, kW). */
  static int threadsFor(Shape y, Shape w, int requested) {
    long positions = y.elementCount() / y.dim(1);
    double flops = 2.0 * y.elementCount() * (w.elementCount() / w.dim(0));
    return flops < ONE_THREAD_BELOW_FLOPS && positions < ONE_THREAD_BELOW_POSITIONS ? 1 : requested;
  }

  /** Plans a thread remembers, most recently used first (a network's convolutions, all three passes). */
  private static final int RECENT_PLANS = 16;

  private static final ThreadLocal<Plan[]> recentPlans = ThreadLocal.withInitial(() -> new Plan[RECENT_PLANS]);

  /**
   * The reorder between the user's weight and the format the primitive of {@code conv} chose: user to chosen for
   * forward and backward data, chosen to user for backward weights.
   */
  private record WeightReorderKey(Key conv) {}

  /** What the bias-gradient reduction depends on. */
  private record BiasKey(Shape dy, Layout layout) {}

  private DnnlConvolution() {}

  @Override
  public void forward(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Tensor y) {
    convolveWithWeight(plan(Pass.FORWARD, x, w, y, spec, bias != null), x, w, bias, y);
  }

  @Override
  public void backwardData(Tensor dy, Tensor w, Conv2dSpec spec, Tensor dx) {
    convolveWithWeight(plan(Pass.BACKWARD_DATA, dx, w, dy, spec, false), dy, w, null, dx);
  }

  /**
   * Forward (src x, dst y) and backward data (src dy, dst dx) alike: w reordered into the format the primitive chose,
   * then the convolution of (src, reordered w[, bias], dst).
   */
  private static void convolveWithWeight(Plan plan, Tensor src, Tensor w, Tensor bias, Tensor dst) {
    DnnlPrimitive reorder = plan.acquireReorder();
    Tensor kernel = reorder.borrowBuffer(1);
    try {
      reorder.execute(w, kernel);
      if (bias != null) plan.convolve(src, kernel, bias, dst);
      else plan.convolve(src, kernel, dst, null);
    } finally {
      reorder.recycle(1, kernel);
      reorder.release();
    }
  }

  @Override
  public void backwardWeights(Tensor x, Tensor dy, Conv2dSpec spec, Tensor dw, Tensor dbias) {
    if (dw == null) {
      biasGradient(dy, dbias);
      return;
    }
    Plan plan = plan(Pass.BACKWARD_WEIGHTS, x, dw, dy, spec, dbias != null);
    DnnlPrimitive reorder = plan.acquireReorder();
    Tensor kernelGradient = reorder.borrowBuffer(0);
    try {
      plan.convolve(x, dy, kernelGradient, dbias);
      reorder.execute(kernelGradient, dw);
    } finally {
      reorder.recycle(0, kernelGradient);
      reorder.release();
    }
  }

  /**
   * The kernels oneDNN picks for the three passes on these tensors (for reports and tests), e.g. {@code forward
   * brg_conv_fwd:avx512_core, backward data ..., backward weights ...}.
   */
  public static String implementations(Tensor x, Tensor w, Tensor y, Conv2dSpec spec, boolean bias) {
    StringBuilder names = new StringBuilder();
    for (Pass pass : Pass.values()) {
      DnnlPrimitive p = plan(pass, x, w, y, spec, bias && pass != Pass.BACKWARD_DATA).acquireConvolution();
      try {
        if (names.length() > 0) names.append(", ");
        names.append(pass.name().toLowerCase(Locale.ROOT).replace('_', ' ')).append(' ').append(p.implementation());
      } finally {
        p.release();
      }
    }
    return names.toString();
  }

  /**
   * dbias[o] = sum of dy[n, o, i, j] over n, i, j, on oneDNN's sum reduction. Used when dw is not wanted: backward
   * weights computes dbias only beside dw, and the weight's kernel size cannot be recovered from x and dy alone.
   */
  private static void biasGradient(Tensor dy, Tensor dbias) {
    if (dy.elementCount() == dbias.elementCount()) {
      // dy is (1, O, 1, 1), already the sum; oneDNN's reduction rejects a src shaped like its dst.
      dbias.copyFrom(dy.reshapeMemory(dbias.shape(), Layout.CHANNELS_FIRST));
      return;
    }
    BiasKey key = new BiasKey(dy.shape(), layout(dy));
    PrimitiveCache.execute(key, () -> createBiasReduction(key), dy, dbias);
  }

  /**
   * The plan of a pass, from the thread's recent plans or new. An activation whose shape has the same memory order in
   * both layouts (C = 1, as a grey image batch, or 1x1 spatial) is described in its partner's layout: given nchw
   * beside nhwc, oneDNN falls back to its reference kernel (some hundred times slower), while for such a shape the
   * nhwc description is equally true.
   */
  private static Plan plan(Pass pass, Tensor x, Tensor w, Tensor y, Conv2dSpec spec, boolean bias) {
    Layout xLayout = activationLayout(x), yLayout = activationLayout(y), wLayout = layout(w);
    if (Layout.layoutsCoincide(x.shape())) xLayout = yLayout;
    else if (Layout.layoutsCoincide(y.shape())) yLayout = xLayout;
    Plan[] recent = recentPlans.get();
    int requested = ThreadPolicy.threads();
    int found = 0;
    while (found < recent.length && recent[found] != null
        && !(recent[found].requested == requested
            && recent[found].key.matches(pass, x.shape(), xLayout, w.shape(), wLayout, yLayout, spec, bias))) {
      found++;
    }
    Plan plan =
        found < recent.length && recent[found] != null
            ? recent[found]
            : new Plan(new Key(pass, x.shape(), xLayout, w.shape(), wLayout, yLayout, spec, bias));
    // move to the front (a new plan pushes out the least recently used one)
    System.arraycopy(recent, 0, recent, 1, Math.min(found, recent.length - 1));
    recent[0] = plan;
    return plan;
  }

  private static Layout layout(Tensor t) {
    return Layout.canonical(t.shape(), t.layout());
  }

  /** The layout oneDNN sees an activation in: channels-last for a staged channels-first one. */
  private static Layout activationLayout(Tensor t) {
    return staged(t) ? Layout.CHANNELS_LAST : layout(t);
  }

  private static DnnlPrimitive create(Key key) {
    int[] args;
    switch (key.pass) {
      case FORWARD:
        args = key.bias
            ? new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST}
            : new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
        break;
      case BACKWARD_DATA:
        args = new int[] {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
        break;
      default:
        args = key.bias
            ? new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS}
            : new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
    }
    String name = "convolution " + key.pass.name().toLowerCase(Locale.ROOT).replace('_', ' ');
    return DnnlPrimitive.create(name, primitiveDesc(key), args);
  }

  private static DnnlPrimitive createWeightReorder(Key key) {
    dnnl_primitive_desc pd = primitiveDesc(key);
    dnnl_memory_desc user = userWeightDesc(key.w, key.wLayout, key.spec.groups());
    try {
      boolean gradient = key.pass == Pass.BACKWARD_WEIGHTS;
      dnnl_memory_desc chosen =
          dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, gradient ? DNNL_ARG_DIFF_WEIGHTS : DNNL_ARG_WEIGHTS);
      String what = "convolution weight " + key.w + (gradient ? " from oneDNN's format" : " to oneDNN's format");
      return gradient ? DnnlReorder.create(chosen, user, what) : DnnlReorder.create(user, chosen, what);
    } finally {
      Dnnl.destroy(user);
      dnnl_primitive_desc_destroy(pd);
    }
  }

  /** The primitive descriptor of key's pass, weights in the format oneDNN prefers (the caller destroys it). */
  private static dnnl_primitive_desc primitiveDesc(Key key) {
    Shape yShape = key.y();
    Conv2dSpec s = key.spec;
    dnnl_memory_desc x = Dnnl.memoryDesc(key.x, key.xLayout.strides(key.x));
    dnnl_memory_desc w = anyWeightDesc(key.w, s.groups());
    dnnl_memory_desc y = Dnnl.memoryDesc(yShape, key.yLayout.strides(yShape));
    dnnl_memory_desc bias = key.bias ? Dnnl.vectorDesc(key.w.dim(0)) : null;
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    long[] strides = {s.strideH(), s.strideW()};
    long[] dilates = {s.dilationH() - 1, s.dilationW() - 1};
    long[] padding = {s.padH(), s.padW()};
    String what = " descriptor for x " + key.x + " " + key.xLayout + ", w " + key.w + ", " + s;
    try {
      dnnl_primitive_desc forward = new dnnl_primitive_desc();
      check(
          dnnl_convolution_forward_primitive_desc_create(
              forward, Dnnl.engine(), dnnl_forward_training, dnnl_convolution_direct, x, w, bias, y, strides,
              dilates, padding, padding, attr),
          "create a convolution forward" + what);
      if (key.pass == Pass.FORWARD) return forward;
      try {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        if (key.pass == Pass.BACKWARD_DATA) {
          check(
              dnnl_convolution_backward_data_primitive_desc_create(
                  pd, Dnnl.engine(), dnnl_convolution_direct, x, w, y, strides, dilates, padding, padding, forward,
                  attr),
              "create a convolution backward-data" + what);
        } else {
          check(
              dnnl_convolution_backward_weights_primitive_desc_create(
                  pd, Dnnl.engine(), dnnl_convolution_direct, x, w, bias, y, strides, dilates, padding, padding,
                  forward, attr),
              "create a convolution backward-weights" + what);
        }
        return pd;
      } finally {
        dnnl_primitive_desc_destroy(forward);
      }
    } finally {
      dnnl_primitive_attr_destroy(attr);
      Dnnl.destroy(x, w, y, bias);
    }
  }

  private static DnnlPrimitive createBiasReduction(BiasKey key) {
    Shape perChannel = Shape.of(1, key.dy.channels(), 1, 1);
    dnnl_memory_desc src = Dnnl.memoryDesc(key.dy, key.layout.strides(key.dy));
    dnnl_memory_desc dst = Dnnl.memoryDesc(perChannel, Layout.CHANNELS_FIRST.strides(perChannel));
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    try {
      dnnl_primitive_desc pd = new dnnl_primitive_desc();
      check(
          dnnl_reduction_primitive_desc_create(pd, Dnnl.engine(), dnnl_reduction_sum, src, dst, 0f, 0f, attr),
          "create a sum reduction descriptor for " + key.dy + " " + key.layout);
      return DnnlPrimitive.create("convolution bias gradient", pd, DNNL_ARG_SRC, DNNL_ARG_DST);
    } finally {
      dnnl_primitive_attr_destroy(attr);
      Dnnl.destroy(src, dst);
    }
  }

  /** The weight's dims as oneDNN sees them: (O, C/G, kH, kW), or (G, O/G, C/G, kH, kW) with groups. */
  private static long[] weightDims(Shape w, int groups) {
    return groups == 1 ? w.dims() : new long[] {groups, w.dim(0) / groups, w.dim(1), w.dim(2), w.dim(3)};
  }

  /** The weight with its layout's strides; with groups the group dim strides over O/G filters. */
  private static dnnl_memory_desc userWeightDesc(Shape w, Layout layout, int groups) {
    long[] strides = layout.strides(w);
    if (groups == 1) return Dnnl.memoryDesc(w, strides);
    long[] grouped = {w.dim(0) / groups * strides[0], strides[0], strides[1], strides[2], strides[3]};
    return Dnnl.memoryDesc(Shape.of(weightDims(w, groups)), grouped);
  }

  /** The weight's dims with format_tag_any: oneDNN picks the format (the caller destroys the descriptor). */
  private static dnnl_memory_desc anyWeightDesc(Shape w, int groups) {
    long[] dims = weightDims(w, groups);
    dnnl_memory_desc md = new dnnl_memory_desc();
    check(
        dnnl_memory_desc_create_with_tag(md, dims.length, dims, dnnl_f32, dnnl_format_tag_any),
        "create a weight descriptor for " + w);
    return md;
  }
}
