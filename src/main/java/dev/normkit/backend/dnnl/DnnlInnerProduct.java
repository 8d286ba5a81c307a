package dev.normkit.backend.dnnl;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Checks;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ThreadPolicy;
import java.util.Locale;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * A fully connected layer on oneDNN's {@code inner_product} primitives, PyTorch's {@code F.linear(flatten(x), w, b)}
 * with x (N, C, H, W) and w (O, C, H, W) (PyTorch's (O, C*H*W) weight, viewed with x's dims):
 *
 * <pre>
 *   y[n, o] = sum over c, h, w of x[n, c, h, w] * w[o, c, h, w] + b[o]
 *   dx = dy . w        dw = dy^T . x        db = sum over n of dy
 * </pre>
 *
 * x and w are described by their own layouts; giving w the layout of x (channels-last weight for channels-last
 * activations) lets oneDNN run its GEMM kernel without reordering.
 */
public final class DnnlInnerProduct {
  private enum Pass { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

  /** What an inner-product primitive depends on. */
  private record Key(Pass pass, Shape x, Layout xLayout, Shape w, Layout wLayout) {}

  private DnnlInnerProduct() {}

  /** The output shape (N, O). */
  public static Shape outputShape(Shape x, Shape w) {
    // the message is built only when the check fails: this runs on every call
    if (x.rank() != 4 || w.rank() != 4 || x.product(1, 4) != w.product(1, 4)) {
      throw new IllegalArgumentException(
          "inner product needs x (N, C, H, W) and w (O, C, H, W), got " + x + " and " + w);
    }
    return Shape.matrix(x.dim(0), w.dim(0));
  }

  /** y = flatten(x) . w^T + b. */
  public static void forward(Tensor x, Tensor w, Tensor b, Tensor y) {
    Checks.shape(y, outputShape(x.shape(), w.shape()), "output");
    Checks.shape(b, Shape.vector(w.shape().dim(0)), "bias");
    Key key = key(Pass.FORWARD, x, w);
    PrimitiveCache.execute(key, () -> create(key), threads(key), x, w, b, y);
  }

  /** dx = dy . w (x's shape and layout). */
  public static void backwardData(Tensor dy, Tensor w, Tensor dx) {
    Checks.shape(dy, outputShape(dx.shape(), w.shape()), "gradOutput");
    Key key = key(Pass.BACKWARD_DATA, dx, w);
    PrimitiveCache.execute(key, () -> create(key), threads(key), dy, w, dx);
  }

  /** dw = dy^T . flatten(x) (w's shape and layout), db = column sums of dy. */
  public static void backwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor db) {
    Checks.shape(dy, outputShape(x.shape(), dw.shape()), "gradOutput");
    Checks.shape(db, Shape.vector(dw.shape().dim(0)), "gradBias");
    Key key = key(Pass.BACKWARD_WEIGHTS, x, dw);
    PrimitiveCache.execute(key, () -> create(key), threads(key), x, dy, dw, db);
  }

  /** The kernel oneDNN picks for a pass (for reports and tests). */
  public static String implementation(Tensor x, Tensor w) {
    Key key = key(Pass.FORWARD, x, w);
    DnnlPrimitive p = PrimitiveCache.global().acquire(key, () -> create(key), threads(key));
    try {
      return p.implementation();
    } finally {
      p.release();
    }
  }

  /**
   * Flops (2 N C H W O) below which an inner product runs on one thread. Measured with oneDNN directly ((N, 64, 7, 7)
   * -> 10, us with 1 / 2 warm threads, forward, backward data, backward weights): N = 2 (0.1 MFLOP): 4.0 / 6.6,
   * 1.7 / 1.7, 2.9 / 7.1; N = 32 (2 MFLOP): 17.5 / 15.6, 9.8 / 8.3, 18.8 / 16.4; N = 256 (16 MFLOP): 141 / 82,
   * 73 / 50, 137 / 79. (With sleeping threads, before NativeRuntime chose a short spin, the crossover was 24 MFLOP.)
   */
  private static final double ONE_THREAD_BELOW = 1e6;

  private static int threads(Key key) {
    return ThreadPolicy.threadsFor(2.0 * key.x.elementCount() * key.w.dim(0), ONE_THREAD_BELOW);
  }

  private static Key key(Pass pass, Tensor x, Tensor w) {
    return new Key(pass, x.shape(), layout(x), w.shape(), layout(w));
  }

  private static Layout layout(Tensor t) {
    return Layout.canonical(t.shape(), t.layout());
  }

  private static DnnlPrimitive create(Key key) {
    Shape yShape = outputShape(key.x, key.w);
    dnnl_memory_desc x = Dnnl.memoryDesc(key.x, key.xLayout.strides(key.x));
    dnnl_memory_desc w = Dnnl.memoryDesc(key.w, key.wLayout.strides(key.w));
    dnnl_memory_desc b = Dnnl.vectorDesc(key.w.dim(0));
    dnnl_memory_desc y = Dnnl.memoryDesc(yShape, Layout.CHANNELS_FIRST.strides(yShape));
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    String what = " inner product descriptor for x " + key.x + " " + key.xLayout + ", w " + key.w + " " + key.wLayout;
    try {
      dnnl_primitive_desc forward = new dnnl_primitive_desc();
      check(dnnl_inner_product_forward_primitive_desc_create(forward, Dnnl.engine(), dnnl_forward_training, x, w, b,
          y, attr), "create a forward" + what);
      String name = "inner product " + key.pass.name().toLowerCase(Locale.ROOT).replace('_', ' ');
      if (key.pass == Pass.FORWARD) {
        return DnnlPrimitive.create(name, forward, DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST);
      }
      try {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        if (key.pass == Pass.BACKWARD_DATA) {
          check(dnnl_inner_product_backward_data_primitive_desc_create(pd, Dnnl.engine(), x, w, y, forward, attr),
              "create a backward-data" + what);
          return DnnlPrimitive.create(name, pd, DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC);
        }
        check(dnnl_inner_product_backward_weights_primitive_desc_create(pd, Dnnl.engine(), x, w, b, y, forward,
            attr), "create a backward-weights" + what);
        return DnnlPrimitive.create(
            name, pd, DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS);
      } finally {
        dnnl_primitive_desc_destroy(forward);
      }
    } finally {
      dnnl_primitive_attr_destroy(attr);
      Dnnl.destroy(x, w, b, y);
    }
  }
}
