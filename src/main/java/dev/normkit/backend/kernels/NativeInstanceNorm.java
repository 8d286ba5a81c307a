package dev.normkit.backend.kernels;

import static dev.normkit.backend.kernels.NormkitKernels.check;
import static dev.normkit.backend.kernels.NormkitKernels.layout;
import static dev.normkit.backend.kernels.NormkitKernels.pointerOrNull;
import static dev.normkit.backend.kernels.NormkitLibrary.*;

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
    check(
        nk_instance_norm_forward_training(x.pointer(), y.pointer(), pointerOrNull(gamma), pointerOrNull(beta),
            mean.pointer(), var.pointer(), s.batch(), s.channels(), s.spatialSize(), layout(x), eps),
        "instance norm forward (training)", s);
  }

  @Override
  public void forwardInference(
      Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y) {
    ThreadPolicy.apply();
    Shape s = x.shape();
    check(
        nk_instance_norm_forward_inference(x.pointer(), y.pointer(), pointerOrNull(gamma), pointerOrNull(beta),
            runningMean.pointer(), runningVar.pointer(), s.batch(), s.channels(), s.spatialSize(), layout(x), eps),
        "instance norm forward (inference)", s);
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
    int status = useGlobalStats
        ? nk_instance_norm_backward_running_stats(x.pointer(), dy.pointer(), pointerOrNull(gamma), mean.pointer(),
            var.pointer(), dx.pointer(), pointerOrNull(dgamma), pointerOrNull(dbeta), s.batch(), s.channels(),
            s.spatialSize(), layout(x), eps)
        : nk_instance_norm_backward(x.pointer(), dy.pointer(), pointerOrNull(gamma), mean.pointer(), var.pointer(),
            dx.pointer(), pointerOrNull(dgamma), pointerOrNull(dbeta), s.batch(), s.channels(), s.spatialSize(),
            layout(x), eps);
    check(status, "instance norm backward", s);
  }
}
