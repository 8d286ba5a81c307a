package dev.normkit.cli;

import dev.normkit.Backend;
import dev.normkit.Functional;

/** Group norm with {@code groups} groups; the (N, G) statistics are saved for backward. */
final class GroupNormExecution extends OpExecution {
  private final int groups;

  /** {@code groups} must be positive (the statistics' shape depends on it); divisibility is Functional's check. */
  GroupNormExecution(Backend backend, OpInputs in, int groups, double eps, boolean parameterGradients) {
    super(backend, in, eps);
    this.groups = groups;
    allocateNormalization(Functional.groupNormStatisticsShape(in.x.shape(), groups), parameterGradients);
  }

  @Override
  void forward() {
    Functional.groupNorm(backend, in.x, groups, in.weight, in.bias, eps, y, saveMean, saveVar);
  }

  @Override
  void backward() {
    Functional.groupNormBackward(backend, in.x, in.gradOutput, groups, in.weight, saveMean, saveVar, eps, dx, dweight,
        dbias);
  }
}
