package dev.normkit.cli;

import dev.normkit.Backend;
import dev.normkit.Functional;
import dev.normkit.Shape;
import dev.normkit.Tensor;

/**
 * Batch norm, or instance norm, which has the same arguments: in training (instance norm: with input statistics)
 * the batch statistics are saved for backward and the running statistics, if given, are updated; otherwise the
 * running statistics normalize and are constants for backward.
 */
final class BatchOrInstanceNormExecution extends OpExecution {
  private final boolean instance;
  private final boolean training;
  private final double momentum;

  BatchOrInstanceNormExecution(
      Backend backend,
      OpInputs in,
      boolean instance,
      boolean training,
      double momentum,
      double eps,
      boolean parameterGradients) {
    super(backend, in, eps);
    this.instance = instance;
    this.training = training;
    this.momentum = momentum;
    Shape x = in.x.shape();
    Shape stats = instance ? Functional.instanceNormStatisticsShape(x) : Shape.of(x.channels());
    allocateNormalization(training ? stats : null, parameterGradients);
    runningMean = copyOf(in.runningMean);
    runningVar = copyOf(in.runningVar);
  }

  @Override
  void forward() {
    if (instance) {
      Functional.instanceNorm(backend, in.x, runningMean, runningVar, in.weight, in.bias, training, momentum, eps, y,
          saveMean, saveVar);
    } else {
      Functional.batchNorm(backend, in.x, runningMean, runningVar, in.weight, in.bias, training, momentum, eps, y,
          saveMean, saveVar);
    }
  }

  @Override
  void backward() {
    Tensor mean = training ? saveMean : runningMean;
    Tensor var = training ? saveVar : runningVar;
    if (instance) {
      Functional.instanceNormBackward(backend, in.x, in.gradOutput, in.weight, mean, var, training, eps, dx, dweight,
          dbias);
    } else {
      Functional.batchNormBackward(backend, in.x, in.gradOutput, in.weight, mean, var, training, eps, dx, dweight,
          dbias);
    }
  }
}
