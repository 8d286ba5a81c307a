package dev.normkit.cli;

import static dev.normkit.cli.RunOptions.*;

import dev.normkit.Backend;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.WsVariant;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code normkit run OP [options]}: one op on {@code .npy} files, forward and, with {@code --grad-output}, backward.
 *
 * <p>The order is what makes a failed run leave no output: parse and check every option, read every input, compute
 * everything (Functional validates shapes and values before any kernel runs), and only then write the outputs, each
 * first to a temporary file, then all moved into place. Any invalid input is an {@link IllegalArgumentException}
 * whose message names the option and the value.
 */
final class RunCommand {
  static final String USAGE =
      String.join("\n",
          "usage: normkit run OP [options]      OP: " + RunOp.names(),
          "  --input F.npy            float32 (float64 accepted), C order, logical shape (N, C, ...)",
          "  --output F.npy           float32, same shape",
          "  --backend native|java    default native (onednn: oneDNN primitives only, where oneDNN has the op)",
          "  --layout nchw|nhwc       memory layout of the computation (files are always logical C order)",
          "  --eps E                  default 1e-5 (weight-std: the variant's default)",
          "  --weight F.npy --bias F.npy     affine parameters: shape (C), or the normalized shape for layer-norm",
          "  --groups G               group-norm",
          "  --normalized-shape D1,D2,...    layer-norm: the trailing dims normalized",
          "  --mode train|eval        batch-norm and instance-norm, default train",
          "  --momentum M             default 0.1",
          "  --running-mean F.npy --running-var F.npy           running statistics in",
          "  --out-running-mean F.npy --out-running-var F.npy   running statistics out (updated in train mode)",
          "  --grad-output F.npy      also run backward and write --grad-input F.npy [--grad-weight F.npy"
              + " --grad-bias F.npy]",
          "  --variant seed|bn|scaled weight-std: input is the weight (O, ...), output the standardized weight",
          "");

  /** For empty inputs: see {@link #checkEmptyInputBookkeeping}. 2^24 floats are 64 MB per statistics tensor. */
  static final long MAX_EMPTY_INPUT_DIMS_PRODUCT = 1L << 24;

  private RunCommand() {}

  /** Runs {@code normkit run} with the arguments after "run"; returns the exit code (0) or throws. */
  static int run(List<String> args) throws IOException {
    if (args.isEmpty()) throw new IllegalArgumentException("run needs an op: one of " + RunOp.names());
    RunOp op = RunOp.parse(args.get(0));
    Options o = Options.parse(args.subList(1, args.size()), op.options(), RunOp.allOptions(), op.cliName());
    Map<String, Path> outputs = outputPaths(o);
    checkCombinations(o);
    Backend backend = o.parsed(BACKEND, Backend::parse, Backend.defaultBackend());
    Layout layout = o.parsed(LAYOUT, Layout::parse, Layout.CHANNELS_FIRST);
    try (OpInputs in = readInputs(o, op, layout);
        OpExecution execution = execution(op, o, backend, in)) {
      execution.forward();
      if (in.gradOutput != null) execution.backward();
      writeAll(outputs, execution);
    }
    return 0;
  }

  // ------------------------------------------------------------------------------------------------- options

  /** The output files by option, checked: distinct, in existing writable directories, not directories. */
  private static Map<String, Path> outputPaths(Options o) {
    o.required(OUTPUT);
    Map<String, Path> outputs = new LinkedHashMap<>();
    Map<Path, String> seen = new LinkedHashMap<>();
    for (String option : OUTPUTS) {
      if (!o.has(option)) continue;
      Path p = o.outputPath(option, null);
      String other = seen.put(p.toAbsolutePath().normalize(), option);
      if (other != null) {
        throw new IllegalArgumentException(other + " and " + option + " name the same file " + p);
      }
      outputs.put(option, p);
    }
    return outputs;
  }

  private static void checkCombinations(Options o) {
    o.required(INPUT);
    together(o, WEIGHT, BIAS);
    together(o, RUNNING_MEAN, RUNNING_VAR);
    together(o, OUT_RUNNING_MEAN, OUT_RUNNING_VAR);
    if (!training(o) && !o.has(RUNNING_MEAN)) {
      throw new IllegalArgumentException(MODE + " eval needs " + RUNNING_MEAN + " and " + RUNNING_VAR);
    }
    if (o.has(GRAD_OUTPUT) && !o.has(GRAD_INPUT)) {
      throw new IllegalArgumentException(GRAD_OUTPUT + " needs " + GRAD_INPUT + " (where to write the gradient)");
    }
    for (String grad : new String[] {GRAD_INPUT, GRAD_WEIGHT, GRAD_BIAS}) {
      if (o.has(grad) && !o.has(GRAD_OUTPUT)) {
        throw new IllegalArgumentException(grad + " needs " + GRAD_OUTPUT + " (the gradient to propagate)");
      }
    }
    for (String grad : new String[] {GRAD_WEIGHT, GRAD_BIAS}) {
      if (o.has(grad) && !o.has(WEIGHT)) {
        throw new IllegalArgumentException(grad + " needs " + WEIGHT + " and " + BIAS + " (no affine parameters)");
      }
    }
  }

  private static void together(Options o, String a, String b) {
    if (o.has(a) != o.has(b)) {
      throw new IllegalArgumentException(a + " and " + b + " must be given together (got only "
          + (o.has(a) ? a : b) + ")");
    }
  }

  private static boolean training(Options o) {
    String mode = o.get(MODE);
    if (mode == null || mode.equals("train")) return true;
    if (mode.equals("eval")) return false;
    throw new IllegalArgumentException(MODE + " '" + mode + "' must be train or eval");
  }



  // -------------------------------------------------------------------------------------------------- inputs

  private static OpInputs readInputs(Options o, RunOp op, Layout layout) {
    OpInputs in = new OpInputs();
    try {
      in.x = tensor(o, INPUT, layout);
      checkEmptyInputBookkeeping(in.x.shape());
      in.gradOutput = tensor(o, GRAD_OUTPUT, layout);
      in.weight = tensor(o, WEIGHT, Layout.CHANNELS_FIRST);
      in.bias = tensor(o, BIAS, Layout.CHANNELS_FIRST);
      in.runningMean = tensor(o, RUNNING_MEAN, Layout.CHANNELS_FIRST);
      in.runningVar = tensor(o, RUNNING_VAR, Layout.CHANNELS_FIRST);
      boolean defaultRunningStats = in.runningMean == null && o.has(OUT_RUNNING_MEAN) && training(o);
      if (defaultRunningStats) {
        // PyTorch's initial running statistics: mean 0, var 1
        float[] ones = new float[Math.toIntExact(in.x.shape().channels())];
        Arrays.fill(ones, 1f);
        in.runningMean = Tensor.zeros(Shape.of(ones.length));
        in.runningVar = Tensor.vector(ones);
      }
      return in;
    } catch (RuntimeException | Error e) {
      in.close();
      throw e;
    }
  }

  /**
   * Statistics are sized by the input's dims even when it is empty: instance norm's (N, C) for an input (N, C, 0),
   * say. For a non-empty input they are never larger than the input, but a 128-byte file of shape (100000, 100000, 0)
   * would ask for 40 GB. Such empty inputs are refused when their non-zero dims multiply to more than
   * {@value #MAX_EMPTY_INPUT_DIMS_PRODUCT}.
   */
  private static void checkEmptyInputBookkeeping(Shape x) {
    if (x.elementCount() != 0) return;
    long product = 1;
    for (long d : x.dims()) {
      if (d == 0) continue;
      if (d > MAX_EMPTY_INPUT_DIMS_PRODUCT / product) {
        throw new IllegalArgumentException(INPUT + ": empty input " + x + " has more than "
            + MAX_EMPTY_INPUT_DIMS_PRODUCT + " elements in its non-zero dims (its statistics would be that large)");
      }
      product *= d;
    }
  }

  /** The tensor in file {@code option} (null when absent), laid out as {@code layout}. */
  private static Tensor tensor(Options o, String option, Layout layout) {
    if (!o.has(option)) return null;
    Path file = o.path(option);
    String where = option + " " + file + ": ";
    NpyArray array;
    try {
      if (Files.isDirectory(file)) throw new IllegalArgumentException("is a directory");
      array = Npy.read(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(where + "no such file");
    } catch (AccessDeniedException e) {
      throw new IllegalArgumentException(where + "permission denied");
    } catch (IOException e) {
      throw new IllegalArgumentException(where + "cannot read: " + e.getMessage());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + e.getMessage());
    }
    Shape shape;
    try {
      shape = array.toShape();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + e.getMessage());
    }
    return Tensor.of(array.data(), shape, layout);
  }

  private static OpExecution execution(RunOp op, Options o, Backend backend, OpInputs in) {
    boolean parameterGradients = o.has(GRAD_WEIGHT) || o.has(GRAD_BIAS);
    double eps = o.number(EPS, 1e-5);
    switch (op) {
      case BATCH_NORM:
      case INSTANCE_NORM:
        return new BatchOrInstanceNormExecution(backend, in, op == RunOp.INSTANCE_NORM, training(o),
            o.number(MOMENTUM, 0.1), eps, parameterGradients);
      case LAYER_NORM:
        Shape normalized = o.parsed(NORMALIZED_SHAPE, Shape::parse, null);
        if (normalized == null) throw new IllegalArgumentException("layer-norm needs " + NORMALIZED_SHAPE);
        return new LayerNormExecution(backend, in, normalized, eps, parameterGradients);
      case GROUP_NORM:
        if (!o.has(GROUPS)) throw new IllegalArgumentException("group-norm needs " + GROUPS);
        int groups = o.positiveInt(GROUPS, 1);
        long channels = in.x.shape().channels();
        if (groups > Math.max(channels, 1)) {
          // the (N, G) statistics are allocated before Functional checks C % G; a huge G must not get that far
          throw new IllegalArgumentException(GROUPS + " " + groups + " exceeds the " + channels + " channels of "
              + INPUT + " " + in.x.shape());
        }
        return new GroupNormExecution(backend, in, groups, eps, parameterGradients);
      case WEIGHT_STD:
        WsVariant variant = o.parsed(VARIANT, WsVariant::parse, WsVariant.SEED);
        return new WeightStandardizationExecution(backend, in, variant, o.number(EPS, variant.defaultEps()), 1.0,
            false);
      default:
        throw new AssertionError(op);
    }
  }

  // ------------------------------------------------------------------------------------------------- outputs

  /** Copies every requested output off the tensors, then stages all files and moves them into place. */
  private static void writeAll(Map<String, Path> outputs, OpExecution e) throws IOException {
    Map<String, Tensor> byOption = new LinkedHashMap<>();
    byOption.put(OUTPUT, e.y);
    byOption.put(OUT_RUNNING_MEAN, e.runningMean);
    byOption.put(OUT_RUNNING_VAR, e.runningVar);
    byOption.put(GRAD_INPUT, e.dx);
    byOption.put(GRAD_WEIGHT, e.dweight);
    byOption.put(GRAD_BIAS, e.dbias);
    Map<Path, NpyArray> arrays = new LinkedHashMap<>();
    for (Map.Entry<String, Path> out : outputs.entrySet()) {
      Tensor t = byOption.get(out.getKey());
      if (t == null) throw new IllegalStateException("no tensor computed for " + out.getKey());
      arrays.put(out.getValue(), new NpyArray(t.shape().dims(), t.toArray()));
    }
    List<Npy.Staged> staged = new ArrayList<>();
    try {
      for (Map.Entry<Path, NpyArray> a : arrays.entrySet()) staged.add(Npy.stage(a.getKey(), a.getValue()));
      for (Npy.Staged s : staged) s.commit();
    } finally {
      for (Npy.Staged s : staged) s.close();
    }
  }
}
