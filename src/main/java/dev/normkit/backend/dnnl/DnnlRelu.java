package dev.normkit.backend.dnnl;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Checks;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ThreadPolicy;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * ReLU on oneDNN's {@code eltwise} primitives, in the variant whose backward reads the output, so that both passes
 * may run in place (y may be x, dx may be dy):
 *
 * <pre>
 *   y = max(x, 0)        dx = dy * (y &gt; 0)
 * </pre>
 */
public final class DnnlRelu {
  private enum Pass { FORWARD, BACKWARD }

  /** What an eltwise primitive depends on. */
  private record Key(Pass pass, Shape shape, Layout layout) {}

  private DnnlRelu() {}

  /**
   * Values below which ReLU runs on one thread. Measured with oneDNN directly (channels-last (N, 32, 28, 28), us with
   * 1 / 2 warm threads, forward and backward): 50K values 2.0 / 2.1 and 3.9 / 2.8; 200K 14.5 / 5.5 and 23.5 / 11.4;
   * 800K 54 / 34 and 91 / 47. (With sleeping threads, before NativeRuntime chose a short spin: 2.4 / 26 at 50K.)
   */
  private static final double ONE_THREAD_BELOW = 1 << 17;

  /** y = max(x, 0); y has x's shape and layout and may be x. */
  public static void forward(Tensor x, Tensor y) {
    Checks.shapeAndLayout(y, x.shape(), x.layout(), "output");
    Key key = new Key(Pass.FORWARD, x.shape(), x.layout());
    PrimitiveCache.execute(key, () -> create(key), threads(x.shape()), x, y);
  }

  /** dx = dy where the forward output y is positive, else 0; dx may be dy. */
  public static void backward(Tensor dy, Tensor y, Tensor dx) {
    Checks.shapeAndLayout(dy, y.shape(), y.layout(), "gradOutput");
    Checks.shapeAndLayout(dx, y.shape(), y.layout(), "gradInput");
    Key key = new Key(Pass.BACKWARD, y.shape(), y.layout());
    PrimitiveCache.execute(key, () -> create(key), threads(y.shape()), dy, y, dx);
  }

  private static int threads(Shape s) {
    return ThreadPolicy.threadsFor(s.elementCount(), ONE_THREAD_BELOW);
  }

  private static DnnlPrimitive create(Key key) {
    dnnl_memory_desc md = Dnnl.memoryDesc(key.shape, key.layout.strides(key.shape));
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    String what = " ReLU descriptor for " + key.shape + " " + key.layout;
    try {
      dnnl_primitive_desc forward = new dnnl_primitive_desc();
      check(dnnl_eltwise_forward_primitive_desc_create(forward, Dnnl.engine(), dnnl_forward_training,
          dnnl_eltwise_relu_use_dst_for_bwd, md, md, 0f, 0f, attr), "create a forward" + what);
      if (key.pass == Pass.FORWARD) return DnnlPrimitive.create("relu forward", forward, DNNL_ARG_SRC, DNNL_ARG_DST);
      try {
        dnnl_primitive_desc backward = new dnnl_primitive_desc();
        check(dnnl_eltwise_backward_primitive_desc_create(backward, Dnnl.engine(), dnnl_eltwise_relu_use_dst_for_bwd,
            md, md, md, 0f, 0f, forward, attr), "create a backward" + what);
        return DnnlPrimitive.create("relu backward", backward, DNNL_ARG_DIFF_DST, DNNL_ARG_DST, DNNL_ARG_DIFF_SRC);
      } finally {
        dnnl_primitive_desc_destroy(forward);
      }
    } finally {
      dnnl_primitive_attr_destroy(attr);
      Dnnl.destroy(md);
    }
  }
}
