package dev.normkit.backend.kernels;

import static dev.normkit.backend.kernels.NormkitKernels.check;
import static dev.normkit.backend.kernels.NormkitKernels.layout;
import static dev.normkit.backend.kernels.NormkitLibrary.*;

import dev.normkit.RetainedTensors;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.LayerNormKernel;
import dev.normkit.backend.ThreadPolicy;

/**
 * Layer norm on normkit's own kernels ({@code native/src/layer_norm.cpp}): x of logical shape (N, C, *spatial) is
 * handed over as (N, C, S) in either layout with d, the product of the {@code normalizedDims} trailing dims; each
 * statistics set is d consecutive values in logical order, with elementwise gamma and beta in logical order. The
 * kernel maps the sets onto memory itself (contiguous rows; channels-last rows with the parameters permuted per
 * call in a reused native buffer; channels-last column sets when only trailing spatial dims are normalized), so a
 * call allocates nothing. Inputs are validated by {@link dev.normkit.Functional}.
 */
public final class NativeLayerNorm implements LayerNormKernel {
  public static final NativeLayerNorm INSTANCE = new NativeLayerNorm();

  private NativeLayerNorm() {}

  @Override
  public void forward(
      Tensor x, int normalizedDims, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_layer_norm_forward(held.pointer(x), held.pointer(y), held.pointer(gamma), held.pointer(beta),
              held.pointer(mean), held.pointer(var), s.batch(), s.channels(), s.spatialSize(),
              setSize(s, normalizedDims), layout(x), eps),
          "layer norm forward", s);
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
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_layer_norm_backward(held.pointer(x), held.pointer(dy), held.pointer(gamma), held.pointer(mean),
              held.pointer(var), held.pointer(dx), held.pointer(dgamma), held.pointer(dbeta), s.batch(), s.channels(),
              s.spatialSize(), setSize(s, normalizedDims), layout(x), eps),
          "layer norm backward", s);
    }
  }

  /** d: the values per set, the product of the trailing {@code normalizedDims} dims. */
  private static long setSize(Shape s, int normalizedDims) {
    return s.product(s.rank() - normalizedDims, s.rank());
  }
}
