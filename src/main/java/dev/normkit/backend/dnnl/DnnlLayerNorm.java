package dev.normkit.backend.dnnl;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.LayerNormKernel;
import dev.normkit.backend.dnnl.NormalizationPrimitives.Pass;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * Layer normalization on oneDNN's {@code layer_normalization} primitive, which normalizes each row of a dense 2-D
 * (M, D) view: y[m, d] = (x[m, d] - mean[m]) / sqrt(var[m] + eps) * gamma[d] + beta[d], with M the product of the
 * leading dims and D the product of the {@code normalizedDims} trailing ones.
 *
 * <p>How x's memory maps onto rows ({@link Mapping}):
 *
 * <ul>
 *   <li>memory in logical order (channels-first, or a shape where the layouts coincide): each row is contiguous;
 *   <li>channels-last with C among the normalized dims: each row is still contiguous, its D values in (spatial..., C)
 *       order; the statistics do not depend on the order, but gamma and beta (logical order) are permuted into that
 *       memory order, and dgamma and dbeta back;
 *   <li>channels-last normalizing only trailing spatial dims: a row's values are C apart, so x (and dy) are reordered
 *       to channels-first, normalized there, and y (dx) reordered back.
 * </ul>
 */
public final class DnnlLayerNorm implements LayerNormKernel {
  public static final DnnlLayerNorm INSTANCE = new DnnlLayerNorm();

  /** What a layer-norm primitive depends on: the (M, D) view, the flags and eps. */
  private record Key(Pass pass, long rows, long columns, int flags, float eps) {}

  /** How x's memory order relates to the (M, D) rows oneDNN normalizes. */
  enum Mapping {
    /** Rows are contiguous in logical order. */
    CONTIGUOUS,
    /** Rows are contiguous, in channels-last order: parameters are permuted. */
    PERMUTED_PARAMETERS,
    /** Rows are strided: activations are reordered to channels-first. */
    REORDERED;

    static Mapping of(Tensor x, int normalizedDims) {
      if (x.isMemoryInLogicalOrder()) return CONTIGUOUS;
      return normalizedDims >= x.shape().rank() - 1 ? PERMUTED_PARAMETERS : REORDERED;
    }
  }

  private DnnlLayerNorm() {}

  @Override
  public void forward(
      Tensor x, int normalizedDims, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    switch (Mapping.of(x, normalizedDims)) {
      case CONTIGUOUS:
        forwardRows(x, normalizedDims, gamma, beta, eps, y, mean, var);
        break;
      case PERMUTED_PARAMETERS:
        try (Tensor g = toMemoryOrder(gamma, x, normalizedDims); Tensor b = toMemoryOrder(beta, x, normalizedDims)) {
          forwardRows(x, normalizedDims, g, b, eps, y, mean, var);
        }
        break;
      default:
        try (Tensor xc = DnnlReorder.toLayout(x, Layout.CHANNELS_FIRST);
            Tensor yc = Tensor.empty(y.shape(), Layout.CHANNELS_FIRST)) {
          forwardRows(xc, normalizedDims, gamma, beta, eps, yc, mean, var);
          DnnlReorder.copy(yc, y);
        }
    }
  }

  @Override
  public void backward(
      Tensor x,
      Tensor dy,
      int normalizedDims,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    switch (Mapping.of(x, normalizedDims)) {
      case CONTIGUOUS:
        backwardRows(x, dy, normalizedDims, gamma, mean, var, eps, dx, dgamma, dbeta);
        break;
      case PERMUTED_PARAMETERS:
        try (Tensor g = toMemoryOrder(gamma, x, normalizedDims);
            Tensor dg = dgamma == null ? null : Tensor.empty(dgamma.shape(), Layout.CHANNELS_FIRST);
            Tensor db = dbeta == null ? null : Tensor.empty(dbeta.shape(), Layout.CHANNELS_FIRST)) {
          backwardRows(x, dy, normalizedDims, g, mean, var, eps, dx, dg, db);
          toLogicalOrder(dg, x, normalizedDims, dgamma);
          toLogicalOrder(db, x, normalizedDims, dbeta);
        }
        break;
      default:
        try (Tensor xc = DnnlReorder.toLayout(x, Layout.CHANNELS_FIRST);
            Tensor dyc = DnnlReorder.toLayout(dy, Layout.CHANNELS_FIRST);
            Tensor dxc = Tensor.empty(dx.shape(), Layout.CHANNELS_FIRST)) {
          backwardRows(xc, dyc, normalizedDims, gamma, mean, var, eps, dxc, dgamma, dbeta);
          DnnlReorder.copy(dxc, dx);
        }
    }
  }

  /**
   * The kernel oneDNN picks for the forward-training or the full backward pass on x (for reports and tests), e.g.
   * {@code jit:uni}.
   */
  public static String implementation(Tensor x, int normalizedDims, boolean affine, boolean backward, double eps) {
    Pass pass = backward ? Pass.backward(affine) : Pass.TRAINING;
    DnnlPrimitive p = acquire(pass, x, normalizedDims, affine, eps);
    try {
      return p.implementation();
    } finally {
      p.release();
    }
  }

  private static void forwardRows(
      Tensor x, int normalizedDims, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    DnnlPrimitive p = acquire(Pass.TRAINING, x, normalizedDims, gamma != null, eps);
    NormalizationPrimitives.forward(p, x, gamma, beta, y, mean, var);
  }

  private static void backwardRows(
      Tensor x,
      Tensor dy,
      int normalizedDims,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    Pass pass = Pass.backward(gamma != null);
    DnnlPrimitive p = acquire(pass, x, normalizedDims, gamma != null, eps);
    NormalizationPrimitives.backward(p, x, mean, var, dy, gamma, dx, dgamma, dbeta);
  }

  /**
   * A parameter of the normalized shape (logical order) copied into the memory order of one of x's channels-last
   * rows: the normalized dims seen as an activation (1, C, *spatial), or x's whole shape when every dim is
   * normalized. Null for null.
   */
  private static Tensor toMemoryOrder(Tensor parameter, Tensor x, int normalizedDims) {
    if (parameter == null) return null;
    Tensor logical = parameter.reshapeMemory(rowShape(x, normalizedDims), Layout.CHANNELS_FIRST);
    return DnnlReorder.toLayout(logical, Layout.CHANNELS_LAST);
  }

  /** The inverse of {@link #toMemoryOrder}: writes {@code memoryOrder} into {@code parameter}, if both exist. */
  private static void toLogicalOrder(Tensor memoryOrder, Tensor x, int normalizedDims, Tensor parameter) {
    if (memoryOrder == null) return;
    Shape row = rowShape(x, normalizedDims);
    DnnlReorder.copy(
        memoryOrder.reshapeMemory(row, Layout.CHANNELS_LAST), parameter.reshapeMemory(row, Layout.CHANNELS_FIRST));
  }

  /** The shape of one row as an activation: (1, C, *spatial), or x's shape when N is normalized too. */
  private static Shape rowShape(Tensor x, int normalizedDims) {
    if (normalizedDims == x.shape().rank()) return x.shape();
    long[] dims = x.shape().dims();
    dims[0] = 1;
    return Shape.of(dims);
  }

  private static DnnlPrimitive acquire(Pass pass, Tensor x, int normalizedDims, boolean affine, double eps) {
    Shape s = x.shape();
    long columns = s.product(s.rank() - normalizedDims, s.rank());
    Key key = new Key(pass, s.elementCount() / columns, columns, NormalizationPrimitives.flags(affine), (float) eps);
    return PrimitiveCache.global().acquire(key, () -> create(key));
  }

  private static DnnlPrimitive create(Key key) {
    boolean affine = key.flags != dnnl_normalization_flags_none;
    dnnl_memory_desc md = Dnnl.memoryDesc(Shape.of(key.rows, key.columns), new long[] {key.columns, 1});
    dnnl_memory_desc stats = Dnnl.vectorDesc(key.rows);
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    try {
      dnnl_primitive_desc forward = new dnnl_primitive_desc();
      check(
          dnnl_layer_normalization_forward_primitive_desc_create(
              forward, Dnnl.engine(), dnnl_forward_training, md, md, stats, key.eps, key.flags, attr),
          "create a layer_norm forward descriptor for rows " + key.rows + " x " + key.columns);
      if (key.pass == Pass.TRAINING) {
        return DnnlPrimitive.create("layer_norm forward training", forward, NormalizationPrimitives.args(key.pass, affine));
      }
      try {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        check(
            dnnl_layer_normalization_backward_primitive_desc_create(
                pd, Dnnl.engine(), key.pass.propKind(), md, md, md, stats, key.eps, key.flags, forward, attr),
            "create a layer_norm backward descriptor for rows " + key.rows + " x " + key.columns);
        return DnnlPrimitive.create("layer_norm backward", pd, NormalizationPrimitives.args(key.pass, affine));
      } finally {
        dnnl_primitive_desc_destroy(forward);
      }
    } finally {
      dnnl_primitive_attr_destroy(attr);
      Dnnl.destroy(md, stats);
    }
  }
}
