package dev.normkit.backend.dnnl;

import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Layout;
import dev.normkit.Tensor;

/**
 * What the oneDNN-backed layer and group normalizations share (and batch norm's backward): the flags, the passes, the
 * order of execution arguments of each pass, and how optional parameter gradients map onto them.
 */
final class NormalizationPrimitives {
  private NormalizationPrimitives() {}

  /** The primitives a normalization creates. */
  enum Pass {
    /** Forward with batch statistics, writing mean and variance. */
    TRAINING,
    /** {@code dnnl_backward}: dx and the scale and shift gradients. */
    BACKWARD,
    /** {@code dnnl_backward_data}: dx only. */
    BACKWARD_DATA;

    /**
     * BACKWARD with affine parameters, BACKWARD_DATA without. oneDNN 3.11's backward_data with use_scale still
     * counts diff_scale and diff_shift among its outputs (execution fails with "bad number of outputs"), and the
     * parameter gradients' sums are part of dx's computation anyway: with gamma, the full pass always runs.
     */
    static Pass backward(boolean affine) {
      return affine ? BACKWARD : BACKWARD_DATA;
    }

    int propKind() {
      return this == TRAINING ? dnnl_forward_training : this == BACKWARD ? dnnl_backward : dnnl_backward_data;
    }
  }

  /** use_scale | use_shift with affine parameters, none without. */
  static int flags(boolean affine) {
    return affine ? dnnl_use_scale | dnnl_use_shift : dnnl_normalization_flags_none;
  }

  /** The execution arguments of {@code pass}, in the order {@link #forward} and {@link #backward} pass buffers. */
  static int[] args(Pass pass, boolean affine) {
    switch (pass) {
      case TRAINING:
        return affine
            ? new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT}
            : new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
      case BACKWARD:
        return new int[] {DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE,
            DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT};
      default:
        return new int[] {DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC};
    }
  }

  /** Runs a TRAINING primitive (gamma and beta both null without affine) and releases it. */
  static void forward(DnnlPrimitive p, Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor var) {
    try {
      if (gamma != null) p.execute(x, y, mean, var, gamma, beta);
      else p.execute(x, y, mean, var);
    } finally {
      p.release();
    }
  }

  /**
   * Runs a backward primitive made for {@link Pass#backward}(gamma != null) and releases it. With gamma, oneDNN writes both
   * parameter gradients: an unwanted (null) one goes to a scratch tensor.
   */
  static void backward(
      DnnlPrimitive p,
      Tensor x,
      Tensor mean,
      Tensor var,
      Tensor dy,
      Tensor gamma,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    try {
      if (gamma == null) {
        p.execute(x, mean, var, dy, dx);
        return;
      }
      try (Tensor dg = dgamma != null ? null : Tensor.empty(gamma.shape(), Layout.CHANNELS_FIRST);
          Tensor db = dbeta != null ? null : Tensor.empty(gamma.shape(), Layout.CHANNELS_FIRST)) {
        p.execute(x, mean, var, dy, gamma, dx, dgamma != null ? dgamma : dg, dbeta != null ? dbeta : db);
      }
    } finally {
      p.release();
    }
  }
}
