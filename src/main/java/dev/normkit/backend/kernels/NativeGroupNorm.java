package dev.normkit.backend.kernels;

import static dev.normkit.backend.kernels.NormkitKernels.check;
import static dev.normkit.backend.kernels.NormkitKernels.layout;
import static dev.normkit.backend.kernels.NormkitLibrary.*;

import dev.normkit.RetainedTensors;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.GroupNormKernel;
import dev.normkit.backend.ThreadPolicy;

/**
 * Group norm on normkit's own kernels ({@code native/src/group_norm.cpp}): x of logical shape (N, C, *spatial) is
 * handed over as (N, C, S) in either layout; one statistics set per (n, g) over the group's C / G channels and S,
 * accumulated in double; y = (x - mean[n, g]) / sqrt(var[n, g] + eps) * gamma[c] + beta[c]. A channels-first set is
 * one contiguous run; a channels-last image is swept row by row, vectorized across its channels (split into blocks
 * of whole groups only when there are fewer images than threads). The backward is the kernel oneDNN lacks (its
 * group-norm backward is a reference implementation). Inputs are validated by {@link dev.normkit.Functional}.
 */
public final class NativeGroupNorm implements GroupNormKernel {
  public static final NativeGroupNorm INSTANCE = new NativeGroupNorm();

  private NativeGroupNorm() {}

  @Override
  public void forward(Tensor x, int groups, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_group_norm_forward(held.pointer(x), held.pointer(y), held.pointer(gamma), held.pointer(beta),
              held.pointer(mean), held.pointer(var), s.batch(), s.channels(), s.spatialSize(), groups, layout(x),
              eps),
          "group norm forward", s);
    }
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
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_group_norm_backward(held.pointer(x), held.pointer(dy), held.pointer(gamma), held.pointer(mean),
              held.pointer(var), held.pointer(dx), held.pointer(dgamma), held.pointer(dbeta), s.batch(), s.channels(),
              s.spatialSize(), groups, layout(x), eps),
          "group norm backward", s);
    }
  }
}
