package dev.normkit.backend.kernels;

import static dev.normkit.backend.kernels.NormkitKernels.check;
import static dev.normkit.backend.kernels.NormkitLibrary.*;

import dev.normkit.RetainedTensors;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ThreadPolicy;
import dev.normkit.WsVariant;
import dev.normkit.backend.WeightStandardizationKernel;

/**
 * Weight standardization on normkit's own kernels ({@code native/src/weight_standardization.cpp}): a weight of
 * shape (O, ...) is handed over as (O, K) in memory order, each filter's K values being contiguous in either
 * layout. Formulas in {@link WeightStandardizationKernel} and {@link WsVariant}; inputs are validated by
 * {@link dev.normkit.Functional}.
 */
public final class NativeWeightStandardization implements WeightStandardizationKernel {
  public static final NativeWeightStandardization INSTANCE = new NativeWeightStandardization();

  private NativeWeightStandardization() {}

  @Override
  public void forward(
      Tensor w, WsVariant variant, double eps, double gamma, Tensor gain, Tensor wHat, Tensor mean, Tensor rstd) {
    ThreadPolicy.apply();
    Shape s = w.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_weight_standardization_forward(held.pointer(w), held.pointer(wHat), held.pointer(mean),
              held.pointer(rstd), held.pointer(gain), s.dim(0), perFilter(s), code(variant), eps, gamma),
          "weight standardization forward", s);
    }
  }

  @Override
  public void backward(
      Tensor w,
      Tensor dwHat,
      WsVariant variant,
      double eps,
      double gamma,
      Tensor gain,
      Tensor mean,
      Tensor rstd,
      Tensor dw,
      Tensor dgain) {
    ThreadPolicy.apply();
    Shape s = w.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(
          nk_weight_standardization_backward(held.pointer(w), held.pointer(dwHat), held.pointer(gain),
              held.pointer(mean), held.pointer(rstd), held.pointer(dw), held.pointer(dgain), s.dim(0), perFilter(s),
              code(variant), eps, gamma),
          "weight standardization backward", s);
    }
  }

  /** K, the values per filter. */
  private static long perFilter(Shape s) {
    return s.product(1, s.rank());
  }

  private static int code(WsVariant variant) {
    switch (variant) {
      case SEED:
        return NK_WS_SEED;
      case BATCH_NORM_STYLE:
        return NK_WS_BATCH_NORM_STYLE;
      case SCALED:
        return NK_WS_SCALED;
      default:
        throw new IllegalArgumentException("unknown weight-standardization variant " + variant);
    }
  }
}
