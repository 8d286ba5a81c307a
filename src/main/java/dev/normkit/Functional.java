package dev.normkit;

import java.util.function.Consumer;

/**
 * The functional form of every op: stateless static methods in the spirit of PyTorch's {@code torch.nn.functional}.
 * The layers ({@link BatchNorm}, {@link LayerNorm}, ...) are built on these.
 *
 * <p>Each op has a short form that allocates and returns its output (default backend), and a full form that takes
 * the {@link Backend}, the output tensors and the tensors that save statistics for backward; with the full form a
 * call allocates nothing native. All arguments are validated here, before any kernel runs: a bad argument throws
 * {@link IllegalArgumentException} naming the value, a closed tensor {@link IllegalStateException}, and no output is
 * written.
 *
 * <p>Formulas and conventions follow PyTorch (CONVENTIONS.md): var is the biased variance, rstd = 1 / sqrt(var +
 * eps); running statistics use the unbiased variance.
 */
public final class Functional {
  private Functional() {}

  // ---------------------------------------------------------------------------------------------- batch norm

  /**
   * PyTorch's {@code F.batch_norm}: y = (x - mean) / sqrt(var + eps) * weight + bias per channel. In training the
   * statistics are the batch's (over N and the spatial dims) and the running statistics, if given, are updated;
   * otherwise the running statistics are used. Ioffe &amp; Szegedy, 2015.
   */
  public static Tensor batchNorm(
      Tensor x,
      Tensor runningMean,
      Tensor runningVar,
      Tensor weight,
      Tensor bias,
      boolean training,
      double momentum,
      double eps) {
    Checks.activation(x, "input");
    Tensor y = Tensor.empty(x.shape(), x.layout());
    return filled(y, out -> batchNorm(Backend.defaultBackend(), x, runningMean, runningVar, weight, bias, training,
        momentum, eps, out, null, null));
  }

  /**
   * The full form of {@link #batchNorm(Tensor, Tensor, Tensor, Tensor, Tensor, boolean, double, double)}: writes y
   * and, in training, the batch mean and biased variance into {@code saveMean}/{@code saveVar} (shape (C); null
   * when not needed for backward).
   */
  public static void batchNorm(
      Backend backend,
      Tensor x,
      Tensor runningMean,
      Tensor runningVar,
      Tensor weight,
      Tensor bias,
      boolean training,
      double momentum,
      double eps,
      Tensor y,
      Tensor saveMean,
      Tensor saveVar) {
    Checks.notNull(backend, "backend");
    Checks.activation(x, "input");
    Shape perChannel = Shape.vector(x.shape().channels());
    checkAffine(weight, bias, perChannel);
    checkRunningStats(runningMean, runningVar, perChannel);
    Checks.eps(eps);
    Checks.momentum(momentum);
    Checks.shapeAndLayout(y, x.shape(), x.layout(), "output");
    Checks.inPlaceOrDisjoint(y, "output", x, "input");
    Checks.optionalParameter(saveMean, perChannel, "saveMean");
    Checks.optionalParameter(saveVar, perChannel, "saveVar");
    Checks.apart(RUNNING_FORWARD_ARGUMENTS, training ? 5 : 3, 1 << 5, y, saveMean, saveVar, runningMean, runningVar,
        x, weight, bias);
    long valuesPerChannel = x.shape().batch() * x.shape().spatialSize();
    if (training && valuesPerChannel == 1) {
      throw new IllegalArgumentException(
          "Expected more than 1 value per channel when training, got input size " + x.shape());
    }
    if (!training && runningMean == null) {
      throw new IllegalArgumentException("running_mean and running_var must be given in evaluation mode");
    }
    if (x.elementCount() == 0) return;
    if (!training) {
      backend.batchNorm().forwardInference(x, weight, bias, runningMean, runningVar, eps, y);
      return;
    }
    Tensor mean = null, var = null;
    try {
      mean = orTemporary(saveMean, perChannel);
      var = orTemporary(saveVar, perChannel);
      backend.batchNorm().forwardTraining(x, weight, bias, eps, y, mean, var);
      if (runningMean != null) {
        RunningStatistics.update(runningMean, runningVar, mean, var, valuesPerChannel, momentum);
      }
    } finally {
      closeTemporary(mean, saveMean);
      closeTemporary(var, saveVar);
    }
  }

  /**
   * Batch-norm backward. In training {@code mean}/{@code var} are the batch statistics saved by the forward pass; in
   * evaluation ({@code training == false}) the running statistics, treated as constants. Writes dx and, when
   * non-null, dweight and dbias (shape (C); only with a weight).
   */
  public static void batchNormBackward(
      Backend backend,
      Tensor x,
      Tensor dy,
      Tensor weight,
      Tensor mean,
      Tensor var,
      boolean training,
      double eps,
      Tensor dx,
      Tensor dweight,
      Tensor dbias) {
    Checks.notNull(backend, "backend");
    Checks.activation(x, "input");
    Shape perChannel = Shape.vector(x.shape().channels());
    checkBackward(x, dy, dx, weight, dweight, dbias, perChannel, eps);
    Checks.parameter(mean, perChannel, "mean");
    Checks.parameter(var, perChannel, "var");
    Checks.apart(BACKWARD_ARGUMENTS, 3, 3 << 3, dx, dweight, dbias, x, dy, weight, mean, var);
    if (zeroGradientsIfEmpty(x, dweight, dbias)) return;
    backend.batchNorm().backward(x, dy, weight, mean, var, eps, !training, dx, dweight, dbias);
  }

  // ---------------------------------------------------------------------------------------------- layer norm

  /**
   * PyTorch's {@code F.layer_norm}: statistics over the trailing dims given by {@code normalizedShape}, per leading
   * index; y = (x - mean) / sqrt(var + eps) * weight + bias with elementwise weight and bias of the normalized
   * shape. Ba, Kiros &amp; Hinton, 2016.
   */
  public static Tensor layerNorm(Tensor x, Shape normalizedShape, Tensor weight, Tensor bias, double eps) {
    Checks.activation(x, "input");
    Tensor y = Tensor.empty(x.shape(), x.layout());
    return filled(y, out -> layerNorm(Backend.defaultBackend(), x, normalizedShape, weight, bias, eps, out, null, null));
  }

  /** The shape of layer norm's saved statistics: the leading dims' product M, as (M). */
  public static Shape layerNormStatisticsShape(Shape input, Shape normalizedShape) {
    return Shape.vector(input.product(0, input.rank() - normalizedShape.rank()));
  }

  /** The full form of layer norm: writes y and the per-row mean and biased variance (shape (M); may be null). */
  public static void layerNorm(
      Backend backend,
      Tensor x,
      Shape normalizedShape,
      Tensor weight,
      Tensor bias,
      double eps,
      Tensor y,
      Tensor saveMean,
      Tensor saveVar) {
    Checks.notNull(backend, "backend");
    Checks.activation(x, "input");
    checkNormalizedShape(x, normalizedShape);
    checkAffine(weight, bias, normalizedShape);
    Checks.eps(eps);
    Checks.shapeAndLayout(y, x.shape(), x.layout(), "output");
    Checks.inPlaceOrDisjoint(y, "output", x, "input");
    Shape stats = layerNormStatisticsShape(x.shape(), normalizedShape);
    Checks.optionalParameter(saveMean, stats, "saveMean");
    Checks.optionalParameter(saveVar, stats, "saveVar");
    Checks.apart(FORWARD_ARGUMENTS, 3, 1 << 3, y, saveMean, saveVar, x, weight, bias, null, null);
    if (x.elementCount() == 0) return;
    Tensor mean = null, var = null;
    try {
      mean = orTemporary(saveMean, stats);
      var = orTemporary(saveVar, stats);
      backend.layerNorm().forward(x, normalizedShape.rank(), weight, bias, eps, y, mean, var);
    } finally {
      closeTemporary(mean, saveMean);
      closeTemporary(var, saveVar);
    }
  }

  /** Layer-norm backward from the saved per-row statistics; dweight/dbias have the normalized shape. */
  public static void layerNormBackward(
      Backend backend,
      Tensor x,
      Tensor dy,
      Shape normalizedShape,
      Tensor weight,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dweight,
      Tensor dbias) {
    Checks.notNull(backend, "backend");
    Checks.activation(x, "input");
    checkNormalizedShape(x, normalizedShape);
    checkBackward(x, dy, dx, weight, dweight, dbias, normalizedShape, eps);
    // normkit's kernel for sets too large for cache sums dweight in a pass after dx is written: dx may not alias
    Checks.disjoint(dx, "gradInput", x, "input");
    Checks.disjoint(dx, "gradInput", dy, "gradOutput");
    Shape stats = layerNormStatisticsShape(x.shape(), normalizedShape);
    Checks.parameter(mean, stats, "mean");
    Checks.parameter(var, stats, "var");
    Checks.apart(BACKWARD_ARGUMENTS, 3, 3 << 3, dx, dweight, dbias, x, dy, weight, mean, var);
    if (zeroGradientsIfEmpty(x, dweight, dbias)) return;
    backend.layerNorm().backward(x, dy, normalizedShape.rank(), weight, mean, var, eps, dx, dweight, dbias);
  }

  // ---------------------------------------------------------------------------------------------- group norm

  /**
   * PyTorch's {@code F.group_norm}: the C channels split into {@code groups} groups of consecutive channels;
   * statistics per (n, group) over the group's channels and the spatial dims; per-channel weight and bias. Wu &amp;
   * He, 2018.
   */
  public static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps) {
    Checks.activation(x, "input");
    Tensor y = Tensor.empty(x.shape(), x.layout());
    return filled(y, out -> groupNorm(Backend.defaultBackend(), x, groups, weight, bias, eps, out, null, null));
  }

  /** The shape (N, G) of group norm's saved statistics. */
  public static Shape groupNormStatisticsShape(Shape input, int groups) {
    return Shape.matrix(input.batch(), groups);
  }

  /** The full form of group norm: writes y and the (N, G) mean and biased variance (may be null). */
  public static void groupNorm(
      Backend backend,
      Tensor x,
      int groups,
      Tensor weight,
      Tensor bias,
      double eps,
      Tensor y,
      Tensor saveMean,
      Tensor saveVar) {
    Checks.notNull(backend, "backend");
    Checks.activation(x, "input");
    checkGroups(x, groups);
    // PyTorch's F.group_norm refuses the one case where N * C/G * spatial is 1 (a single set of a single value)
    if (x.shape().batch() * (x.shape().channels() / groups) * x.shape().spatialSize() == 1) {
      throw new IllegalArgumentException(
          "Expected more than 1 value per channel when training, got input size " + x.shape() + " with " + groups
              + " groups");
    }
    checkAffine(weight, bias, Shape.vector(x.shape().channels()));
    Checks.eps(eps);
    Checks.shapeAndLayout(y, x.shape(), x.layout(), "output");
    Checks.inPlaceOrDisjoint(y, "output", x, "input");
    Shape stats = groupNormStatisticsShape(x.shape(), groups);
    Checks.optionalParameter(saveMean, stats, "saveMean");
    Checks.optionalParameter(saveVar, stats, "saveVar");
    Checks.apart(FORWARD_ARGUMENTS, 3, 1 << 3, y, saveMean, saveVar, x, weight, bias, null, null);
    if (x.elementCount() == 0) return;
    Tensor mean = null, var = null;
    try {
      mean = orTemporary(saveMean, stats);
      var = orTemporary(saveVar, stats);
      backend.groupNorm().forward(x, groups, weight, bias, eps, y, mean, var);
    } finally {
      closeTemporary(mean, saveMean);
      closeTemporary(var, saveVar);
    }
  }

  /** Group-norm backward from the saved (N, G) statistics. */
  public static void groupNormBackward(
      Backend backend,
      Tensor x,
      Tensor dy,
      int groups,
      Tensor weight,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dweight,
      Tensor dbias) {
    Checks.notNull(backend, "backend");
    Checks.activation(x, "input");
    checkGroups(x, groups);
    checkBackward(x, dy, dx, weight, dweight, dbias, Shape.vector(x.shape().channels()), eps);
    Shape stats = groupNormStatisticsShape(x.shape(), groups);
    Checks.parameter(mean, stats, "mean");
    Checks.parameter(var, stats, "var");
    Checks.apart(BACKWARD_ARGUMENTS, 3, 3 << 3, dx, dweight, dbias, x, dy, weight, mean, var);
    if (zeroGradientsIfEmpty(x, dweight, dbias)) return;
    backend.groupNorm().backward(x, dy, groups, weight, mean, var, eps, dx, dweight, dbias);
  }

  // ------------------------------------------------------------------------------------------- instance norm

  /**
   * PyTorch's {@code F.instance_norm}: with {@code useInputStats} the statistics are per (n, c) over the spatial
   * dims and the running statistics, if given, move towards the batch averages of the per-instance means and
   * unbiased variances; otherwise the running statistics are used. Ulyanov, Vedaldi &amp; Lempitsky, 2016.
   */
  public static Tensor instanceNorm(
      Tensor x,
      Tensor runningMean,
      Tensor runningVar,
      Tensor weight,
      Tensor bias,
      boolean useInputStats,
      double momentum,
      double eps) {
    Checks.activation(x, "input");
    Tensor y = Tensor.empty(x.shape(), x.layout());
    return filled(y, out -> instanceNorm(Backend.defaultBackend(), x, runningMean, runningVar, weight, bias,
        useInputStats, momentum, eps, out, null, null));
  }

  /** The full form of instance norm: writes y and, with input statistics, the (N, C) mean and biased variance. */
  public static void instanceNorm(
      Backend backend,
      Tensor x,
      Tensor runningMean,
      Tensor runningVar,
      Tensor weight,
      Tensor bias,
      boolean useInputStats,
      double momentum,
      double eps,
      Tensor y,
      Tensor saveMean,
      Tensor saveVar) {
    Checks.notNull(backend, "backend");
    Checks.activation(x, "input");
    Shape perChannel = Shape.vector(x.shape().channels());
    checkAffine(weight, bias, perChannel);
    checkRunningStats(runningMean, runningVar, perChannel);
    Checks.eps(eps);
    Checks.momentum(momentum);
    Checks.shapeAndLayout(y, x.shape(), x.layout(), "output");
    Checks.inPlaceOrDisjoint(y, "output", x, "input");
    Shape stats = instanceNormStatisticsShape(x.shape());
    Checks.optionalParameter(saveMean, stats, "saveMean");
    Checks.optionalParameter(saveVar, stats, "saveVar");
    Checks.apart(RUNNING_FORWARD_ARGUMENTS, useInputStats ? 5 : 3, 1 << 5, y, saveMean, saveVar, runningMean,
        runningVar, x, weight, bias);
    long spatial = x.shape().spatialSize();
    if (useInputStats && spatial == 1) {
      throw new IllegalArgumentException(
          "Expected more than 1 spatial element when training, got input size " + x.shape());
    }
    if (!useInputStats && runningMean == null) {
      throw new IllegalArgumentException(
          "running_mean and running_var must be given when not using input statistics");
    }
    if (x.elementCount() == 0) {
      // as PyTorch 1.13: with no instances (N = 0) the batch average of no per-instance statistics is NaN, and so
      // become the running statistics; instances without values (a spatial size of 0) leave them as they were
      if (useInputStats && runningMean != null && x.shape().batch() == 0) {
        runningMean.fill(Float.NaN);
        runningVar.fill(Float.NaN);
      }
      return;
    }
    if (!useInputStats) {
      backend.instanceNorm().forwardInference(x, weight, bias, runningMean, runningVar, eps, y);
      return;
    }
    Tensor mean = null, var = null;
    try {
      mean = orTemporary(saveMean, stats);
      var = orTemporary(saveVar, stats);
      backend.instanceNorm().forwardTraining(x, weight, bias, eps, y, mean, var);
      if (runningMean != null) {
        RunningStatistics.updateFromInstances(runningMean, runningVar, mean, var, spatial, momentum);
      }
    } finally {
      closeTemporary(mean, saveMean);
      closeTemporary(var, saveVar);
    }
  }

  /** The shape (N, C) of instance norm's saved statistics. */
  public static Shape instanceNormStatisticsShape(Shape input) {
    return Shape.matrix(input.batch(), input.channels());
  }

  /**
   * Instance-norm backward. With {@code useInputStats} mean/var are the saved (N, C) statistics; otherwise the (C)
   * running statistics, treated as constants.
   */
  public static void instanceNormBackward(
      Backend backend,
      Tensor x,
      Tensor dy,
      Tensor weight,
      Tensor mean,
      Tensor var,
      boolean useInputStats,
      double eps,
      Tensor dx,
      Tensor dweight,
      Tensor dbias) {
    Checks.notNull(backend, "backend");
    Checks.activation(x, "input");
    Shape perChannel = Shape.vector(x.shape().channels());
    checkBackward(x, dy, dx, weight, dweight, dbias, perChannel, eps);
    Shape stats = useInputStats ? instanceNormStatisticsShape(x.shape()) : perChannel;
    Checks.parameter(mean, stats, "mean");
    Checks.parameter(var, stats, "var");
    Checks.apart(BACKWARD_ARGUMENTS, 3, 3 << 3, dx, dweight, dbias, x, dy, weight, mean, var);
    if (zeroGradientsIfEmpty(x, dweight, dbias)) return;
    backend.instanceNorm().backward(x, dy, weight, mean, var, eps, !useInputStats, dx, dweight, dbias);
  }

  // -------------------------------------------------------------------------------- weight standardization

  /**
   * Weight standardization of w (O, ...) per output filter over its K values, in the given variant (see
   * {@link WsVariant}); {@code gain} (shape (O), SCALED only, null meaning ones) and {@code gamma} scale the SCALED
   * variant. Qiao et al., 2019; Brock et al., 2021 (SCALED).
   */
  public static Tensor weightStandardize(Tensor w, WsVariant variant, double eps) {
    checkWeight(w);
    Tensor out = Tensor.empty(w.shape(), w.layout());
    return filled(out, o -> weightStandardize(Backend.defaultBackend(), w, variant, eps, 1.0, null, o, null, null));
  }

  /** The full form: writes wHat and, when non-null, the per-filter mean and normalizing factor rstd (shape (O)). */
  public static void weightStandardize(
      Backend backend,
      Tensor w,
      WsVariant variant,
      double eps,
      double gamma,
      Tensor gain,
      Tensor wHat,
      Tensor saveMean,
      Tensor saveRstd) {
    Checks.notNull(backend, "backend");
    checkWeightStandardization(w, variant, eps, gamma, gain);
    Checks.shapeAndLayout(wHat, w.shape(), w.layout(), "output");
    Checks.inPlaceOrDisjoint(wHat, "output", w, "weight");
    Shape perFilter = Shape.vector(w.shape().dim(0));
    Checks.optionalParameter(saveMean, perFilter, "saveMean");
    Checks.optionalParameter(saveRstd, perFilter, "saveRstd");
    Checks.apart(WS_FORWARD_ARGUMENTS, 3, 1 << 3, wHat, saveMean, saveRstd, w, gain, null, null, null);
    if (w.elementCount() == 0) return;
    Tensor mean = null, rstd = null;
    try {
      mean = orTemporary(saveMean, perFilter);
      rstd = orTemporary(saveRstd, perFilter);
      backend.weightStandardization().forward(w, variant, eps, gamma, gain, wHat, mean, rstd);
    } finally {
      closeTemporary(mean, saveMean);
      closeTemporary(rstd, saveRstd);
    }
  }

  /** Weight-standardization backward: dw from dwHat through the per-filter mean and std; dgain for SCALED. */
  public static void weightStandardizeBackward(
      Backend backend,
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
    Checks.notNull(backend, "backend");
    checkWeightStandardization(w, variant, eps, gamma, gain);
    Checks.shapeAndLayout(dwHat, w.shape(), w.layout(), "gradOutput");
    Checks.shapeAndLayout(dw, w.shape(), w.layout(), "gradInput");
    Checks.inPlaceOrDisjoint(dw, "gradInput", dwHat, "gradOutput");
    Checks.inPlaceOrDisjoint(dw, "gradInput", w, "weight");
    Shape perFilter = Shape.vector(w.shape().dim(0));
    Checks.parameter(mean, perFilter, "mean");
    Checks.parameter(rstd, perFilter, "rstd");
    Checks.optionalParameter(dgain, perFilter, "gradGain");
    Checks.argument(dgain == null || variant == WsVariant.SCALED, "gradGain is only defined for the SCALED variant");
    Checks.apart(WS_BACKWARD_ARGUMENTS, 2, 3 << 2, dw, dgain, w, dwHat, gain, mean, rstd, null);
    if (w.elementCount() == 0) return;
    backend.weightStandardization().backward(w, dwHat, variant, eps, gamma, gain, mean, rstd, dw, dgain);
  }

  // ------------------------------------------------------------------------------------------------ conv2d

  /** PyTorch's {@code F.conv2d(x, w, bias, stride, padding, dilation, groups)}. */
  public static Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    checkConv(x, w, bias, spec);
    Tensor y = Tensor.empty(spec.outputShape(x.shape(), w.shape()), x.layout());
    return filled(y, o -> conv2d(Backend.defaultBackend(), x, w, bias, spec, o));
  }

  /** The full form of conv2d: writes y (shape from {@link Conv2dSpec#outputShape}, x's layout). */
  public static void conv2d(Backend backend, Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Tensor y) {
    Checks.notNull(backend, "backend");
    checkConv(x, w, bias, spec);
    Checks.shapeAndLayout(y, convOutputShape(spec, x, w, y, "output"), x.layout(), "output");
    Checks.apart(CONV_FORWARD_ARGUMENTS, 1, 0, y, x, w, bias, null, null, null, null);
    if (y.elementCount() == 0) return;
    if (x.elementCount() == 0) {
      y.fill(0);
      return;
    }
    backend.convolution().forward(x, w, bias, spec, y);
  }

  /** Conv2d backward: dx (when non-null), dw and dbias (when non-null) from x, w and dy. */
  public static void conv2dBackward(
      Backend backend, Tensor x, Tensor w, Tensor dy, Conv2dSpec spec, Tensor dx, Tensor dw, Tensor dbias) {
    Checks.notNull(backend, "backend");
    checkConv(x, w, dbias, spec);
    Checks.shapeAndLayout(dy, convOutputShape(spec, x, w, dy, "gradOutput"), x.layout(), "gradOutput");
    if (dx != null) Checks.shapeAndLayout(dx, x.shape(), x.layout(), "gradInput");
    if (dw != null) Checks.shapeAndLayout(dw, w.shape(), w.layout(), "gradWeight");
    // backward data writes dx before backward weights reads x and dy: no output may share memory with an input
    Checks.apart(CONV_BACKWARD_ARGUMENTS, 3, 0, dx, dw, dbias, x, dy, w, null, null);
    if (dy.elementCount() == 0 || x.elementCount() == 0) {
      if (dx != null) dx.fill(0);
      if (dw != null) dw.fill(0);
      if (dbias != null) dbias.fill(0);
      return;
    }
    if (dx != null) backend.convolution().backwardData(dy, w, spec, dx);
    if (dw != null || dbias != null) backend.convolution().backwardWeights(x, dy, spec, dw, dbias);
  }

  // ------------------------------------------------------------------------------------------------ checks

  // The tensors of each kind of call, outputs first, as Checks.apart takes them.
  private static final String RUNNING_FORWARD_ARGUMENTS =
      "output,saveMean,saveVar,runningMean,runningVar,input,weight,bias";
  private static final String FORWARD_ARGUMENTS = "output,saveMean,saveVar,input,weight,bias";
  private static final String BACKWARD_ARGUMENTS = "gradInput,gradWeight,gradBias,input,gradOutput,weight,mean,var";
  private static final String WS_FORWARD_ARGUMENTS = "output,saveMean,saveRstd,weight,gain";
  private static final String WS_BACKWARD_ARGUMENTS = "gradInput,gradGain,weight,gradOutput,gain,mean,rstd";
  private static final String CONV_FORWARD_ARGUMENTS = "output,input,weight,bias";
  private static final String CONV_BACKWARD_ARGUMENTS = "gradInput,gradWeight,gradBias,input,gradOutput,weight";

  private static void checkAffine(Tensor weight, Tensor bias, Shape expected) {
    Checks.affinePair(weight, bias);
    Checks.optionalParameter(weight, expected, "weight");
    Checks.optionalParameter(bias, expected, "bias");
  }

  private static void checkRunningStats(Tensor runningMean, Tensor runningVar, Shape expected) {
    if ((runningMean == null) != (runningVar == null)) {
      throw new IllegalArgumentException("runningMean and runningVar must be given together (both or neither)");
    }
    Checks.optionalParameter(runningMean, expected, "runningMean");
    Checks.optionalParameter(runningVar, expected, "runningVar");
  }

  private static void checkBackward(
      Tensor x, Tensor dy, Tensor dx, Tensor weight, Tensor dweight, Tensor dbias, Shape params, double eps) {
    Checks.shapeAndLayout(dy, x.shape(), x.layout(), "gradOutput");
    Checks.shapeAndLayout(dx, x.shape(), x.layout(), "gradInput");
    Checks.inPlaceOrDisjoint(dx, "gradInput", x, "input");
    Checks.inPlaceOrDisjoint(dx, "gradInput", dy, "gradOutput");
    Checks.optionalParameter(weight, params, "weight");
    Checks.eps(eps);
    if (weight == null && (dweight != null || dbias != null)) {
      throw new IllegalArgumentException("gradWeight/gradBias requested without a weight (no affine parameters)");
    }
    Checks.optionalParameter(dweight, params, "gradWeight");
    Checks.optionalParameter(dbias, params, "gradBias");
  }

  private static void checkNormalizedShape(Tensor x, Shape normalizedShape) {
    Checks.notNull(normalizedShape, "normalizedShape");
    if (!x.shape().endsWith(normalizedShape)) {
      throw new IllegalArgumentException(
          "normalizedShape " + normalizedShape + " is not the trailing dims of input shape " + x.shape());
    }
  }

  private static void checkGroups(Tensor x, int groups) {
    long c = x.shape().channels();
    if (groups < 1) throw new IllegalArgumentException("groups must be >= 1, got " + groups);
    if (c % groups != 0) {
      throw new IllegalArgumentException("channels " + c + " not divisible by groups " + groups);
    }
  }

  private static void checkWeight(Tensor w) {
    Checks.notNull(w, "weight").checkOpen();
    if (w.shape().rank() < 2) {
      throw new IllegalArgumentException("weight must have shape (O, ...) with rank >= 2, got " + w.shape());
    }
  }

  private static void checkWeightStandardization(Tensor w, WsVariant variant, double eps, double gamma, Tensor gain) {
    checkWeight(w);
    Checks.notNull(variant, "variant");
    Checks.eps(eps);
    if (!Double.isFinite(gamma)) throw new IllegalArgumentException("gamma must be finite, got " + gamma);
    long k = w.shape().product(1, w.shape().rank());
    if (variant == WsVariant.SEED && k == 1 && w.shape().dim(0) > 0) {
      throw new IllegalArgumentException(
          "weight standardization SEED needs K > 1 values per filter for its unbiased std, got K = 1 for weight "
              + w.shape());
    }
    if (gain != null) {
      Checks.argument(variant == WsVariant.SCALED, "gain is only used by the SCALED variant, got " + variant);
      Checks.parameter(gain, Shape.vector(w.shape().dim(0)), "gain");
    }
  }

  private static void checkConv(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    Checks.notNull(x, "input").checkOpen();
    Checks.notNull(w, "weight").checkOpen();
    Checks.notNull(spec, "spec");
    spec.validate(x.shape(), w.shape());
    if (bias != null) Checks.parameter(bias, Shape.vector(w.shape().dim(0)), "bias");  // no Shape built without a bias
  }

  /**
   * The convolution's output shape for the check of {@code y} (or dy), x and w already validated by checkConv: y's own
   * shape when it is right, so that a correct call allocates nothing; the expected shape otherwise, for the message.
   */
  private static Shape convOutputShape(Conv2dSpec spec, Tensor x, Tensor w, Tensor y, String name) {
    Checks.notNull(y, name);
    return spec.isOutputShape(y.shape(), x.shape(), w.shape()) ? y.shape() : spec.outputShape(x.shape(), w.shape());
  }

  /** For an empty input: gradients of parameters are zero (sums over nothing) and dx is empty. */
  private static boolean zeroGradientsIfEmpty(Tensor x, Tensor dweight, Tensor dbias) {
    if (x.elementCount() != 0) return false;
    if (dweight != null) dweight.fill(0);
    if (dbias != null) dbias.fill(0);
    return true;
  }

  /** Runs {@code op} into {@code out}; frees {@code out} if the op throws. */
  private static Tensor filled(Tensor out, Consumer<Tensor> op) {
    try {
      op.accept(out);
      return out;
    } catch (RuntimeException | Error e) {
      out.close();
      throw e;
    }
  }

  /**
   * The caller's statistics tensor, or (when the caller passed none) a temporary of {@code shape}, which the caller of
   * this method frees with {@link #closeTemporary} in a finally block. A call whose caller passes every output
   * allocates nothing, on the Java heap or off it: the forward forms spell this try/finally out rather than share a
   * holder object or a lambda, since both were measured to stay on the heap (24 B per call, `bench --overhead`).
   */
  private static Tensor orTemporary(Tensor callers, Shape shape) {
    return callers != null ? callers : Tensor.empty(shape, Layout.CHANNELS_FIRST);
  }

  /** Frees {@code t} when it is a temporary that {@link #orTemporary} made in place of {@code callers}. */
  private static void closeTemporary(Tensor t, Tensor callers) {
    if (t != null && t != callers) t.close();
  }
}
