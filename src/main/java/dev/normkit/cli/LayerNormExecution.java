package dev.normkit.cli;

import dev.normkit.Backend;
import dev.normkit.Functional;
import dev.normkit.Shape;

/** Layer norm over the trailing dims {@code normalizedShape}; the per-row statistics are saved for backward. */
final class LayerNormExecution extends OpExecution {
  private final Shape normalizedShape;

  LayerNormExecution(Backend backend, OpInputs in, Shape normalizedShape, double eps, boolean parameterGradients) {
    super(backend, in, eps);
    this.normalizedShape = normalizedShape;
    allocateNormalization(Functional.layerNormStatisticsShape(in.x.shape(), normalizedShape), parameterGradients);
  }

  @Override
  void forward() {
    Functional.layerNorm(backend, in.x, normalizedShape, in.weight, in.bias, eps, y, saveMean, saveVar);
  }

  @Override
  void backward() {
    Functional.layerNormBackward(backend, in.x, in.gradOutput, normalizedShape, in.weight, saveMean, saveVar, eps, dx,
        dweight, dbias);
  }
}
