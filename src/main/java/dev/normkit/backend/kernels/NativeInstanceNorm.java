package dev.normkit.backend.kernels;

import static dev.normkit.backend.kernels.NormkitKernels.check;
import static dev.normkit.backend.kernels.NormkitKernels.layout;
import static dev.normkit.backend.kernels.NormkitLibrary.*;

import dev.normkit.RetainedTensors;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ThreadPolicy;
import dev.normkit.backend.InstanceNormKernel;

/**
 * Instance norm on normkit's own kernels ({@code native/src/instance_norm.cpp}): x of logical shape (N, C, *spatial)
 * is handed over as (N, C, S) with S the product of the spatial dims, in either layout. Statistics are per (n, c):
 * mean and biased var over S values, accumulated in double; y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c].
 * Inputs are validated by {@link dev.normkit.Functional}; the running-statistics update is done there too.
 */
public final class NativeInstanceNorm implements InstanceNormKernel {
  public static final NativeInstanceNorm INSTANCE = new NativeInstanceNorm();

  private NativeInstanceNorm() {}

  @Override
  public void forwardTraining(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_instance_norm_forward_training(held.pointer(x), held.pointer(y), held.pointer(gamma), held.pointer(beta),
              held.pointer(mean), held.pointer(var), s.batch(), s.channels(), s.spatialSize(), layout(x), eps),
          "instance norm forward (training)", s);
    }
  }

  @Override
  public void forwardInference(
      Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y) {
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_instance_norm_forward_inference(held.pointer(x), held.pointer(y), held.pointer(gamma),
              held.pointer(beta), held.pointer(runningMean), held.pointer(runningVar), s.batch(), s.channels(),
              s.spatialSize(), layout(x), eps),
          "instance norm forward (inference)", s);
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
          ? nk_instance_norm_backward_running_stats(held.pointer(x), held.pointer(dy), held.pointer(gamma),
              held.pointer(mean), held.pointer(var), held.pointer(dx), held.pointer(dgamma), held.pointer(dbeta),
              s.batch(), s.channels(), s.spatialSize(), layout(x), eps)
          : nk_instance_norm_backward(held.pointer(x), held.pointer(dy), held.pointer(gamma), held.pointer(mean),
              held.pointer(var), held.pointer(dx), held.pointer(dgamma), held.pointer(dbeta), s.batch(), s.channels(),
              s.spatialSize(), layout(x), eps);
      check(status, "instance norm backward", s);
    }
  }
}
