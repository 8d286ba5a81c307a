package dev.normkit.backend.dnnl;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Conv2dSpec;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ConvolutionKernel;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * 2-D convolution on oneDNN's {@code convolution} primitives (direct algorithm): forward, backward data and backward
 * weights (with or without the bias gradient). Activations are described with their own strides (NCHW or NHWC) and
 * the weight with its own (OIHW when contiguous), so no data is copied. oneDNN's conventions differ from PyTorch's in
 * two places: groups are expressed by a 5-D weight (G, O/G, C/G, kH, kW) over the same memory, and oneDNN's dilation
 * is PyTorch's minus one (0 = dense kernel).
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
  }

  private DnnlConvolution() {}

  @Override
  public void forward(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Tensor y) {
    DnnlPrimitive p = acquire(Pass.FORWARD, x, w, y, spec, bias != null);
    try {
      if (bias != null) p.execute(x, w, bias, y);
      else p.execute(x, w, y);
    } finally {
      p.release();
    }
  }

  @Override
  public void backwardData(Tensor dy, Tensor w, Conv2dSpec spec, Tensor dx) {
    DnnlPrimitive p = acquire(Pass.BACKWARD_DATA, dx, w, dy, spec, false);
    try {
      p.execute(dy, w, dx);
    } finally {
      p.release();
    }
  }

  @Override
  public void backwardWeights(Tensor x, Tensor dy, Conv2dSpec spec, Tensor dw, Tensor dbias) {
    if (dw == null) {
      biasGradient(dy, dbias);
      return;
    }
    DnnlPrimitive p = acquire(Pass.BACKWARD_WEIGHTS, x, dw, dy, spec, dbias != null);
    try {
      if (dbias != null) p.execute(x, dy, dw, dbias);
      else p.execute(x, dy, dw);
    } finally {
      p.release();
    }
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
    DnnlPrimitive p = PrimitiveCache.global().acquire(key, () -> createBiasReduction(key));
    try {
      p.execute(dy, dbias);
    } finally {
      p.release();
    }
  }

  /** What the bias-gradient reduction depends on. */
  private record BiasKey(Shape dy, Layout layout) {}

  /** The kernel oneDNN picks for forward (for reports and tests), e.g. {@code brg_conv_fwd:avx512_core}. */
  public static String implementation(Tensor x, Tensor w, Tensor y, Conv2dSpec spec, boolean bias) {
    DnnlPrimitive p = acquire(Pass.FORWARD, x, w, y, spec, bias);
    try {
      return p.implementation();
    } finally {
      p.release();
    }
  }

  private static DnnlPrimitive acquire(Pass pass, Tensor x, Tensor w, Tensor y, Conv2dSpec spec, boolean bias) {
    Key key = new Key(pass, x.shape(), layout(x), w.shape(), layout(w), layout(y), spec, bias);
    return PrimitiveCache.global().acquire(key, () -> create(key));
  }

  /** A tensor's layout, or CHANNELS_FIRST when its shape has the same memory order in both. */
  private static Layout layout(Tensor t) {
    return Layout.layoutsCoincide(t.shape()) ? Layout.CHANNELS_FIRST : t.layout();
  }

  private static DnnlPrimitive create(Key key) {
    Shape yShape = key.y();
    dnnl_memory_desc x = Dnnl.memoryDesc(key.x, key.xLayout.strides(key.x));
    dnnl_memory_desc w = weightDesc(key.w, key.wLayout, key.spec.groups());
    dnnl_memory_desc y = Dnnl.memoryDesc(yShape, key.yLayout.strides(yShape));
    dnnl_memory_desc bias = key.bias ? Dnnl.vectorDesc(key.w.dim(0)) : null;
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    Conv2dSpec s = key.spec;
    long[] strides = {s.strideH(), s.strideW()};
    long[] dilates = {s.dilationH() - 1, s.dilationW() - 1};
    long[] padding = {s.padH(), s.padW()};
    String what = " descriptor for x " + key.x + " " + key.xLayout + ", w " + key.w + ", " + s;
    try {
      dnnl_primitive_desc forward = new dnnl_primitive_desc();
      check(
          dnnl_convolution_forward_primitive_desc_create(
              forward, Dnnl.engine(), dnnl_forward_training, dnnl_convolution_direct, x, w,
              key.pass == Pass.FORWARD ? bias : null, y, strides, dilates, padding, padding, attr),
          "create a convolution forward" + what);
      if (key.pass == Pass.FORWARD) {
        return DnnlPrimitive.create(
            "convolution forward",
            forward,
            key.bias
                ? new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST}
                : new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST});
      }
      try {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        if (key.pass == Pass.BACKWARD_DATA) {
          check(
              dnnl_convolution_backward_data_primitive_desc_create(
                  pd, Dnnl.engine(), dnnl_convolution_direct, x, w, y, strides, dilates, padding, padding, forward,
                  attr),
              "create a convolution backward-data" + what);
          return DnnlPrimitive.create(
              "convolution backward data", pd, DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC);
        }
        check(
            dnnl_convolution_backward_weights_primitive_desc_create(
                pd, Dnnl.engine(), dnnl_convolution_direct, x, w, bias, y, strides, dilates, padding, padding,
                forward, attr),
            "create a convolution backward-weights" + what);
        return DnnlPrimitive.create(
            "convolution backward weights",
            pd,
            key.bias
                ? new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS}
                : new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS});
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

  /**
   * The weight (O, C/G, kH, kW) with its layout's strides; with groups, the same memory as (G, O/G, C/G, kH, kW):
   * the group dim strides over O/G filters.
   */
  private static dnnl_memory_desc weightDesc(Shape w, Layout layout, int groups) {
    long[] strides = layout.strides(w);
    if (groups == 1) return Dnnl.memoryDesc(w, strides);
    long perGroup = w.dim(0) / groups;
    Shape grouped = Shape.of(groups, perGroup, w.dim(1), w.dim(2), w.dim(3));
    return Dnnl.memoryDesc(
        grouped, new long[] {perGroup * strides[0], strides[0], strides[1], strides[2], strides[3]});
  }
}
