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
 * Max pooling over k x k windows with stride k (PyTorch's {@code F.max_pool2d(x, k)}), on oneDNN's {@code pooling}
 * primitives:
 *
 * <pre>
 *   y[n, c, i, j] = max over 0 &lt;= a, b &lt; k of x[n, c, k*i + a, k*j + b]
 *   dx[n, c, h, w] = dy[n, c, h / k, w / k] where (h, w) is the window's argmax, else 0
 * </pre>
 *
 * The forward pass records each window's argmax in a workspace ({@link #workspaceShape}) that backward reads. x and y
 * share a layout; H and W must be multiples of k.
 */
public final class DnnlMaxPool {
  private enum Pass { FORWARD, BACKWARD }

  /** What a pooling primitive depends on. */
  private record Key(Pass pass, Shape x, Layout layout, int window) {}

  private DnnlMaxPool() {}

  /**
   * Input values below which pooling runs on one thread. Measured with oneDNN directly (channels-last (N, 32, 28, 28),
   * window 2, us with 1 / 2 warm threads, forward and backward): 50K values 3.2 / 4.6 and 4.0 / 11.6; 200K 10.7 / 8.1
   * and 13.5 / 15.5; 800K 39 / 26 and 53 / 38; 3.2M 159 / 94 and 216 / 116. (With sleeping threads, before
   * NativeRuntime chose a short spin, 2 threads lost up to 800K.)
   */
  private static final double ONE_THREAD_BELOW = 1 << 19;

  /** The output shape (N, C, H / k, W / k). */
  public static Shape outputShape(Shape x, int window) {
    // each message is built only when its check fails: this runs on every call
    if (x.rank() != 4) throw new IllegalArgumentException("max pool input must have shape (N, C, H, W), got " + x);
    if (window < 1 || x.dim(2) % window != 0 || x.dim(3) % window != 0) {
      throw new IllegalArgumentException("max pool window " + window + " does not tile input " + x);
    }
    return Shape.of(x.dim(0), x.dim(1), x.dim(2) / window, x.dim(3) / window);
  }

  /** The shape (in floats) of the workspace that holds the argmaxes of a forward pass over {@code x}. */
  public static Shape workspaceShape(Tensor x, int window) {
    Key key = key(Pass.FORWARD, x, window);
    DnnlPrimitive p = PrimitiveCache.global().acquire(key, () -> create(key), threads(key));
    try {
      return Shape.of((p.argumentBytes(2) + Float.BYTES - 1) / Float.BYTES);
    } finally {
      p.release();
    }
  }

  /** y = max_pool2d(x, k); the argmaxes go to {@code workspace}. */
  public static void forward(Tensor x, Tensor y, Tensor workspace, int window) {
    Checks.shapeAndLayout(y, outputShape(x.shape(), window), x.layout(), "output");
    Key key = key(Pass.FORWARD, x, window);
    PrimitiveCache.execute(key, () -> create(key), threads(key), x, y, workspace);
  }

  /** dx from dy and the workspace of the forward pass over x (dx's shape and layout). */
  public static void backward(Tensor dy, Tensor workspace, Tensor dx, int window) {
    Checks.shapeAndLayout(dy, outputShape(dx.shape(), window), dx.layout(), "gradOutput");
    Key key = key(Pass.BACKWARD, dx, window);
    PrimitiveCache.execute(key, () -> create(key), threads(key), dy, workspace, dx);
  }

  private static int threads(Key key) {
    return ThreadPolicy.threadsFor(key.x.elementCount(), ONE_THREAD_BELOW);
  }

  private static Key key(Pass pass, Tensor x, int window) {
    return new Key(pass, x.shape(), x.layout(), window);
  }

  private static DnnlPrimitive create(Key key) {
    Shape yShape = outputShape(key.x, key.window);
    dnnl_memory_desc x = Dnnl.memoryDesc(key.x, key.layout.strides(key.x));
    dnnl_memory_desc y = Dnnl.memoryDesc(yShape, key.layout.strides(yShape));
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    long[] window = {key.window, key.window};
    long[] none = {0, 0};
    String what = " max pooling descriptor for " + key.x + " " + key.layout;
    try {
      dnnl_primitive_desc forward = new dnnl_primitive_desc();
      check(dnnl_pooling_forward_primitive_desc_create(forward, Dnnl.engine(), dnnl_forward_training,
          dnnl_pooling_max, x, y, window, window, none, none, none, attr), "create a forward" + what);
      if (key.pass == Pass.FORWARD) {
        return DnnlPrimitive.create("max pool forward", forward, DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE);
      }
      try {
        dnnl_primitive_desc backward = new dnnl_primitive_desc();
        check(dnnl_pooling_backward_primitive_desc_create(backward, Dnnl.engine(), dnnl_pooling_max, x, y, window,
            window, none, none, none, forward, attr), "create a backward" + what);
        return DnnlPrimitive.create(
            "max pool backward", backward, DNNL_ARG_DIFF_DST, DNNL_ARG_WORKSPACE, DNNL_ARG_DIFF_SRC);
      } finally {
        dnnl_primitive_desc_destroy(forward);
      }
    } finally {
      dnnl_primitive_attr_destroy(attr);
      Dnnl.destroy(x, y);
    }
  }
}
