package dev.normkit.cli;

import dev.normkit.Backend;
import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.WsVariant;

/**
 * Weight standardization of {@code in.x}, a weight (O, ...): y is the standardized weight and dx the gradient with
 * respect to the raw weight; for the SCALED variant {@code in.gain} (null: ones) and {@code gamma} scale the result
 * and dgain is computed with the parameter gradients.
 */
final class WeightStandardizationExecution extends OpExecution {
  private final WsVariant variant;
  private final double gamma;

  WeightStandardizationExecution(
      Backend backend, OpInputs in, WsVariant variant, double eps, double gamma, boolean parameterGradients) {
    super(backend, in, eps);
    this.variant = variant;
    this.gamma = gamma;
    Shape w = in.x.shape();
    Shape perFilter = Shape.of(w.dim(0));
    y = allocate(w, in.x.layout());
    saveMean = allocate(perFilter, Layout.CHANNELS_FIRST);
    saveVar = allocate(perFilter, Layout.CHANNELS_FIRST); // holds the variant's rstd
    if (in.gradOutput != null) {
      dx = allocate(w, in.x.layout());
      if (parameterGradients && in.gain != null) dgain = allocate(perFilter, Layout.CHANNELS_FIRST);
    }
  }

  @Override
  void forward() {
    Functional.weightStandardize(backend, in.x, variant, eps, gamma, in.gain, y, saveMean, saveVar);
  }

  @Override
  void backward() {
    Functional.weightStandardizeBackward(backend, in.x, in.gradOutput, variant, eps, gamma, in.gain, saveMean,
        saveVar, dx, dgain);
  }

  /** The standardized weight of the last forward pass (for a convolution that uses it). */
  Tensor standardized() {
    return y;
  }
}
