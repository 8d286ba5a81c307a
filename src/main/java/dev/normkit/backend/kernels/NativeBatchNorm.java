package dev.normkit.backend.kernels;

import static dev.normkit.backend.kernels.NormkitKernels.check;
import static dev.normkit.backend.kernels.NormkitKernels.layout;
import static dev.normkit.backend.kernels.NormkitLibrary.*;

import dev.normkit.RetainedTensors;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.BatchNormKernel;
import dev.normkit.backend.ThreadPolicy;

/**
 * Batch norm on normkit's own kernels ({@code native/src/batch_norm.cpp}): x of logical shape (N, C, *spatial) is
 * handed over as (N, C, S) in either layout; one statistics set per channel over its N * S values, accumulated in
 * double; y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c]. A channels-first channel is read from memory once
 * where it fits in L2 (its sums, then its output); channels-last tensors are swept row by row twice (sums, output),
 * and large outputs are written with streaming stores. Results are reproducible for a given thread count. Inputs are
 * validated by {@link dev.normkit.Functional}, which also updates running statistics.
 */
public final class NativeBatchNorm implements BatchNormKernel {
  public static final NativeBatchNorm INSTANCE = new NativeBatchNorm();

  private NativeBatchNorm() {}

  @Override
  public void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_batch_norm_forward_training(held.pointer(x), held.pointer(y), held.pointer(gamma), held.pointer(beta),
              held.pointer(mean), held.pointer(var), s.batch(), s.channels(), s.spatialSize(), layout(x), eps),
          "batch norm forward (training)", s);
    }
  }

  @Override
  public void forwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps, Tensor y) {
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_batch_norm_forward_inference(held.pointer(x), held.pointer(y), held.pointer(gamma), held.pointer(beta),
              held.pointer(mean), held.pointer(var), s.batch(), s.channels(), s.spatialSize(), layout(x), eps),
          "batch norm forward (inference)", s);
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
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      int status = useGlobalStats
          ? nk_batch_norm_backward_global_stats(held.pointer(x), held.pointer(dy), held.pointer(gamma),
              held.pointer(mean), held.pointer(var), held.pointer(dx), held.pointer(dgamma), held.pointer(dbeta),
              s.batch(), s.channels(), s.spatialSize(), layout(x), eps)
          : nk_batch_norm_backward(held.pointer(x), held.pointer(dy), held.pointer(gamma), held.pointer(mean),
              held.pointer(var), held.pointer(dx), held.pointer(dgamma), held.pointer(dbeta), s.batch(), s.channels(),
              s.spatialSize(), layout(x), eps);
      check(status, "batch norm backward", s);
    }
  }
}
