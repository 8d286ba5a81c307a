package dev.normkit.cli;

import java.util.Set;

/** The option names of {@code normkit run}. */
final class RunOptions {
  private RunOptions() {}

  static final String INPUT = "--input";
  static final String OUTPUT = "--output";
  static final String BACKEND = "--backend";
  static final String LAYOUT = "--layout";
  static final String EPS = "--eps";
  static final String WEIGHT = "--weight";
  static final String BIAS = "--bias";
  static final String GROUPS = "--groups";
  static final String NORMALIZED_SHAPE = "--normalized-shape";
  static final String MODE = "--mode";
  static final String MOMENTUM = "--momentum";
  static final String RUNNING_MEAN = "--running-mean";
  static final String RUNNING_VAR = "--running-var";
  static final String OUT_RUNNING_MEAN = "--out-running-mean";
  static final String OUT_RUNNING_VAR = "--out-running-var";
  static final String GRAD_OUTPUT = "--grad-output";
  static final String GRAD_INPUT = "--grad-input";
  static final String GRAD_WEIGHT = "--grad-weight";
  static final String GRAD_BIAS = "--grad-bias";
  static final String VARIANT = "--variant";

  static final Set<String> COMMON = Set.of(INPUT, OUTPUT, BACKEND, LAYOUT, EPS, GRAD_OUTPUT, GRAD_INPUT);
  static final Set<String> AFFINE = Set.of(WEIGHT, BIAS, GRAD_WEIGHT, GRAD_BIAS);
  static final Set<String> RUNNING_STATS =
      Set.of(MODE, MOMENTUM, RUNNING_MEAN, RUNNING_VAR, OUT_RUNNING_MEAN, OUT_RUNNING_VAR);

  /** The options that name files written, in the order they are written. */
  static final String[] OUTPUTS = {OUTPUT, OUT_RUNNING_MEAN, OUT_RUNNING_VAR, GRAD_INPUT, GRAD_WEIGHT, GRAD_BIAS};
}
