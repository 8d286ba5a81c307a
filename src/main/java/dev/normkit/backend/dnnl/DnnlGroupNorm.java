package dev.normkit.backend.dnnl;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.GroupNormKernel;
import dev.normkit.backend.dnnl.NormalizationPrimitives.Pass;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * Group normalization on oneDNN's {@code group_normalization} primitive: y = (x - mean[n, g]) / sqrt(var[n, g] +
 * eps) * gamma[c] + beta[c], with g = c / (C / G); the statistics have shape (N, G). x is described with its own
 * strides, so both layouts run without copies. An (N, C) input is viewed as (N, C, 1): oneDNN 3.11 accepts a rank-2
 * src, but its kernels (jit_group, jit_instance) then compute wrong statistics and write past the end of dst (112
 * floats past a (2, 8) dst, measured), while the (N, C, 1) view is correct.
 *
 * <p>oneDNN's group-norm backward on CPU is its reference implementation: correct, not fast.
 */
public final class DnnlGroupNorm implements GroupNormKernel {
  public static final DnnlGroupNorm INSTANCE = new DnnlGroupNorm();

  /** What a group-norm primitive depends on. */
  private record Key(Pass pass, Shape shape, Layout layout, long groups, int flags, float eps) {}

  private DnnlGroupNorm() {}

  @Override
  public void forward(Tensor x, int groups, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    DnnlPrimitive p = acquire(Pass.TRAINING, x, groups, gamma != null, eps);
    NormalizationPrimitives.forward(p, x, gamma, beta, y, mean, var);
  }

  @Override
  public void backward(
      Tensor x,
      Tensor dy,
      int groups,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    DnnlPrimitive p = acquire(Pass.backward(gamma != null), x, groups, gamma != null, eps);
    NormalizationPrimitives.backward(p, x, mean, var, dy, gamma, dx, dgamma, dbeta);
  }

  /**
   * The kernel oneDNN picks for the forward-training or the full backward pass on x (for reports and tests), e.g.
   * {@code jit_group} or {@code ref:any}.
   */
  public static String implementation(Tensor x, int groups, boolean affine, boolean backward, double eps) {
    Pass pass = backward ? Pass.backward(affine) : Pass.TRAINING;
    DnnlPrimitive p = acquire(pass, x, groups, affine, eps);
    try {
      return p.implementation();
    } finally {
      p.release();
    }
  }

  private static DnnlPrimitive acquire(Pass pass, Tensor x, int groups, boolean affine, double eps) {
    Shape shape = x.shape().rank() == 2 ? Shape.of(x.shape().batch(), x.shape().channels(), 1) : x.shape();
    Layout layout = Layout.canonical(shape, x.layout());
    Key key = new Key(pass, shape, layout, groups, NormalizationPrimitives.flags(affine), (float) eps);
    return PrimitiveCache.global().acquire(key, () -> create(key));
  }

  private static DnnlPrimitive create(Key key) {
    boolean affine = key.flags != dnnl_normalization_flags_none;
    dnnl_memory_desc md = Dnnl.memoryDesc(key.shape, key.layout.strides(key.shape));
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    String what = " descriptor for " + key.shape + " " + key.layout + " with " + key.groups + " groups";
    try {
      dnnl_primitive_desc forward = new dnnl_primitive_desc();
      check(
          dnnl_group_normalization_forward_primitive_desc_create(
              forward, Dnnl.engine(), dnnl_forward_training, md, md, key.groups, key.eps, key.flags, attr),
          "create a group_norm forward" + what);
      if (key.pass == Pass.TRAINING) {
        return DnnlPrimitive.create("group_norm forward training", forward, NormalizationPrimitives.args(key.pass, affine));
      }
      try {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        check(
            dnnl_group_normalization_backward_primitive_desc_create(
                pd, Dnnl.engine(), key.pass.propKind(), md, md, md, key.groups, key.eps, key.flags, forward, attr),
            "create a group_norm backward" + what);
        return DnnlPrimitive.create("group_norm backward", pd, NormalizationPrimitives.args(key.pass, affine));
      } finally {
        dnnl_primitive_desc_destroy(forward);
      }
    } finally {
      dnnl_primitive_attr_destroy(attr);
      Dnnl.destroy(md);
    }
  }
}
