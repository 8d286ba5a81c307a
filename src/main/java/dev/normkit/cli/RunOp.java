package dev.normkit.cli;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.stream.Collectors;

/** The ops of {@code normkit run}, each with the options it accepts. */
enum RunOp {
  BATCH_NORM("batch-norm", RunOptions.AFFINE, RunOptions.RUNNING_STATS),
  LAYER_NORM("layer-norm", RunOptions.AFFINE, Set.of(RunOptions.NORMALIZED_SHAPE)),
  GROUP_NORM("group-norm", RunOptions.AFFINE, Set.of(RunOptions.GROUPS)),
  INSTANCE_NORM("instance-norm", RunOptions.AFFINE, RunOptions.RUNNING_STATS),
  WEIGHT_STD("weight-std", Set.of(RunOptions.VARIANT));

  private final String cliName;
  private final Set<String> options;

  @SafeVarargs
  RunOp(String cliName, Set<String>... specific) {
    this.cliName = cliName;
    Set<String> all = new LinkedHashSet<>(RunOptions.COMMON);
    for (Set<String> s : specific) all.addAll(s);
    this.options = Collections.unmodifiableSet(all);
  }

  String cliName() {
    return cliName;
  }

  /** The options this op accepts. */
  Set<String> options() {
    return options;
  }

  static RunOp parse(String name) {
    for (RunOp op : values()) if (op.cliName.equals(name)) return op;
    throw new IllegalArgumentException("unknown op '" + name + "' (expected one of " + names() + ")");
  }

  static String names() {
    return Arrays.stream(values()).map(RunOp::cliName).collect(Collectors.joining(", "));
  }

  /** Every option of every op. */
  static Set<String> allOptions() {
    Set<String> all = new LinkedHashSet<>();
    for (RunOp op : values()) all.addAll(op.options);
    return all;
  }
}
