package dev.normkit.backend.dnnl;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.BatchNormKernel;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * Batch normalization on oneDNN's {@code batch_normalization} primitive. The running-statistics update (with the
 * unbiased variance PyTorch uses, which oneDNN does not produce) is done by the caller from the batch statistics.
 */
public final class DnnlBatchNorm implements BatchNormKernel {
  public static final DnnlBatchNorm INSTANCE = new DnnlBatchNorm();

  private enum Pass { TRAINING, INFERENCE, BACKWARD, BACKWARD_DATA }

  /** What a batch-norm primitive depends on. */
  private record Key(Pass pass, Shape shape, Layout layout, int flags, float eps) {}

  private DnnlBatchNorm() {}

  @Override
  public void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    boolean affine = gamma != null;
    DnnlPrimitive p = acquire(Pass.TRAINING, x, affineFlags(affine), eps);
    try {
      if (affine) p.execute(x, y, mean, var, gamma, beta);
      else p.execute(x, y, mean, var);
    } finally {
      p.release();
    }
  }

  @Override
  public void forwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps, Tensor y) {
    boolean affine = gamma != null;
    DnnlPrimitive p = acquire(Pass.INFERENCE, x, affineFlags(affine) | dnnl_use_global_stats, eps);
    try {
      if (affine) p.execute(x, mean, var, gamma, beta, y);
      else p.execute(x, mean, var, y);
    } finally {
      p.release();
    }
  }

  @Override
  public void backward(
      Tensor x,
      Tensor dy,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      boolean useGlobalStats,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    boolean affine = gamma != null;
    int flags = affineFlags(affine) | (useGlobalStats ? dnnl_use_global_stats : 0);
    DnnlPrimitive p = acquire(affine ? Pass.BACKWARD : Pass.BACKWARD_DATA, x, flags, eps);
    NormalizationPrimitives.backward(p, x, mean, var, dy, gamma, dx, dgamma, dbeta);
  }

  private static int affineFlags(boolean affine) {
    return affine ? dnnl_use_scale | dnnl_use_shift : dnnl_normalization_flags_none;
  }

  private static DnnlPrimitive acquire(Pass pass, Tensor x, int flags, double eps) {
    Key key = new Key(pass, x.shape(), x.layout(), flags, (float) eps);
    return PrimitiveCache.global().acquire(key, () -> create(key, x));
  }

  private static DnnlPrimitive create(Key key, Tensor x) {
    boolean affine = (key.flags & dnnl_use_scale) != 0;
    dnnl_memory_desc md = Dnnl.memoryDesc(x);
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    try {
      switch (key.pass) {
        case TRAINING:
          return DnnlPrimitive.create(
              "batch_norm forward training",
              forwardDesc(dnnl_forward_training, md, key, attr),
              affine
                  ? new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT}
                  : new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE});
        case INFERENCE:
          return DnnlPrimitive.create(
              "batch_norm forward inference",
              forwardDesc(dnnl_forward_inference, md, key, attr),
              affine
                  ? new int[] {DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DST}
                  : new int[] {DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DST});
        default:
          return createBackward(key, md, attr, affine);
      }
    } finally {
      dnnl_primitive_attr_destroy(attr);
      Dnnl.destroy(md);
    }
  }

  private static DnnlPrimitive createBackward(Key key, dnnl_memory_desc md, dnnl_primitive_attr attr, boolean affine) {
    dnnl_primitive_desc hint = forwardDesc(dnnl_forward_training, md, key, attr);
    try {
      boolean full = key.pass == Pass.BACKWARD;
      dnnl_primitive_desc pd = new dnnl_primitive_desc();
      check(
          dnnl_batch_normalization_backward_primitive_desc_create(
              pd, Dnnl.engine(), full ? dnnl_backward : dnnl_backward_data, md, md, md, key.eps, key.flags, hint, attr),
          "create a batch_norm backward descriptor for " + key.shape);
      int[] args = NormalizationPrimitives.args(NormalizationPrimitives.Pass.backward(affine), affine);
      return DnnlPrimitive.create("batch_norm backward", pd, args);
    } finally {
      dnnl_primitive_desc_destroy(hint);
    }
  }

  private static dnnl_primitive_desc forwardDesc(int prop, dnnl_memory_desc md, Key key, dnnl_primitive_attr attr) {
    dnnl_primitive_desc pd = new dnnl_primitive_desc();
    int flags = key.flags;
    check(
        dnnl_batch_normalization_forward_primitive_desc_create(pd, Dnnl.engine(), prop, md, md, key.eps, flags, attr),
        "create a batch_norm forward descriptor for " + key.shape);
    return pd;
  }
}
