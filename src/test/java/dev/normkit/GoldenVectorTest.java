package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * PyTorch golden vectors (src/test/resources/golden, from tools/golden/generate_golden.py): every case on every
 * backend in both layouts, through {@link Functional}'s full forms, forward and backward, against torch's float64
 * results rounded to float32.
 */
class GoldenVectorTest {
  /**
   * Per tensor |a - e| &lt;= tol * cond * max|e|, where cond = max|x| / std(x) of the case's input x (about 2 to 3 for
   * the standard-normal cases, 99 for bn_train_4d_offset with mean 50 and std 0.5): float32 rounding of x's
   * magnitude, amplified by cond relative to the normalized values, is what limits every float32 kernel here.
   *
   * <p>Measured, as error / cond (the largest over the cases, per output kind):
   * <ul>
   *   <li>PyTorch 1.13's own float32 CPU kernels on the same cases (tools/golden, float32 instead of float64): y 1.1e-7
   *       (gn_g3_2d_affine), running statistics 3.9e-8, grad_input 3.0e-7 (gn_g3_2d_affine: groups of 2 values with
   *       eps 1e-3, where dx is a small difference of large terms), parameter gradients 9.0e-8;
   *   <li>NATIVE batch norm (oneDNN): y 8.2e-8 (offset case, NCHW: 8.1e-6 absolute relative error), grad_input
   *       2.5e-8, grad_weight 2.3e-7 (offset case, NCHW: 2.3e-5); 3.6e-7 / 3.3 = 1.1e-7 at most elsewhere;
   *   <li>JAVA (double inside, float32 saved statistics between forward and backward): 0 for most outputs (exact
   *       float32 rounding of torch's float64), at most 3.0e-7 (grad_input of gn_g3_2d_affine).
   * </ul>
   * The bounds keep a margin of about 4x over the worst of these for kernels with other summation orders: forward
   * (y and running statistics) 5e-7, grad_input 1.5e-6 and parameter gradients (weight, bias, gain) 1e-6, per unit
   * of cond. For cond = 3 that is 1.5e-6, 4.5e-6 and 3e-6 of the tensor's scale.
   */
  private static final double FORWARD_TOL = 5e-7;
  private static final double GRAD_INPUT_TOL = 1.5e-6;
  private static final double GRAD_PARAM_TOL = 1e-6;

  static Stream<Arguments> cases() {
    List<Arguments> args = new ArrayList<>();
    for (GoldenCase c : GoldenCase.all()) {
      for (Backend b : Backend.values()) {
        for (Layout l : Layout.values()) args.add(Arguments.of(c, b, l));
      }
    }
    return args.stream();
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void matchesPyTorch(GoldenCase c, Backend backend, Layout layout) {
    Map<String, float[]> actual = run(c, backend, layout);
    assertEquals(c.outputs.keySet(), actual.keySet(), c + ": outputs");
    double cond = conditioning(c.inputs.get("x").data());
    for (Map.Entry<String, float[]> e : actual.entrySet()) {
      String what = c + " " + backend + " " + layout + " " + e.getKey() + " (cond " + (float) cond + ")";
      Close.assertClose(what, e.getValue(), c.outputs.get(e.getKey()).data(), tolerance(e.getKey()) * cond, 0);
    }
  }

  private static double tolerance(String output) {
    switch (output) {
      case "grad_input":
        return GRAD_INPUT_TOL;
      case "grad_weight":
      case "grad_bias":
      case "grad_gain":
        return GRAD_PARAM_TOL;
      default: // y and the updated running statistics
        return FORWARD_TOL;
    }
  }

  /** max|x| / std(x), the population standard deviation over all of x. */
  static double conditioning(float[] x) {
    double sum = 0, max = 0;
    for (float v : x) {
      sum += v;
      max = Math.max(max, Math.abs(v));
    }
    double mean = sum / x.length, sq = 0;
    for (float v : x) sq += (v - mean) * (v - mean);
    return max / Math.sqrt(sq / x.length);
  }

  /** Runs the case's op forward and backward; the outputs under the golden files' names. */
  static Map<String, float[]> run(GoldenCase c, Backend backend, Layout layout) {
    try (Tensors t = new Tensors()) {
      Tensor x = t.add(c.input("x", layout));
      Tensor dy = t.add(c.input("grad_output", layout));
      Tensor weight = t.add(c.input("weight", Layout.CHANNELS_FIRST));
      Tensor bias = t.add(c.input("bias", Layout.CHANNELS_FIRST));
      Tensor runningMean = t.add(c.input("running_mean", Layout.CHANNELS_FIRST));
      Tensor runningVar = t.add(c.input("running_var", Layout.CHANNELS_FIRST));
      Tensor gain = t.add(c.input("gain", Layout.CHANNELS_FIRST));
      double eps = c.number("eps");
      Map<String, float[]> out = new LinkedHashMap<>();
      switch (c.op) {
        case "batch_norm":
        case "instance_norm": {
          boolean instance = c.op.equals("instance_norm");
          boolean training = c.flag(instance ? "use_input_stats" : "training");
          Shape stats = instance ? Functional.instanceNormStatisticsShape(x.shape()) : Shape.of(x.shape().channels());
          Tensor y = t.like(x), dx = t.like(x), dw = t.like(weight), db = t.like(bias);
          Tensor mean = t.zeros(stats), var = t.zeros(stats);
          double momentum = c.number("momentum");
          if (instance) {
            Functional.instanceNorm(backend, x, runningMean, runningVar, weight, bias, training, momentum, eps, y,
                mean, var);
          } else {
            Functional.batchNorm(backend, x, runningMean, runningVar, weight, bias, training, momentum, eps, y, mean,
                var);
          }
          Tensor m = training ? mean : runningMean, v = training ? var : runningVar;
          if (instance) {
            Functional.instanceNormBackward(backend, x, dy, weight, m, v, training, eps, dx, dw, db);
          } else {
            Functional.batchNormBackward(backend, x, dy, weight, m, v, training, eps, dx, dw, db);
          }
          put(out, "y", y, "grad_input", dx, "grad_weight", dw, "grad_bias", db);
          put(out, "running_mean", runningMean, "running_var", runningVar);
          break;
        }
        case "layer_norm": {
          Shape normalized = Shape.parse(c.param("normalized_shape"));
          Shape stats = Functional.layerNormStatisticsShape(x.shape(), normalized);
          Tensor y = t.like(x), dx = t.like(x), dw = t.like(weight), db = t.like(bias);
          Tensor mean = t.zeros(stats), var = t.zeros(stats);
          Functional.layerNorm(backend, x, normalized, weight, bias, eps, y, mean, var);
          Functional.layerNormBackward(backend, x, dy, normalized, weight, mean, var, eps, dx, dw, db);
          put(out, "y", y, "grad_input", dx, "grad_weight", dw, "grad_bias", db);
          break;
        }
        case "group_norm": {
          int groups = (int) c.number("num_groups");
          Shape stats = Functional.groupNormStatisticsShape(x.shape(), groups);
          Tensor y = t.like(x), dx = t.like(x), dw = t.like(weight), db = t.like(bias);
          Tensor mean = t.zeros(stats), var = t.zeros(stats);
          Functional.groupNorm(backend, x, groups, weight, bias, eps, y, mean, var);
          Functional.groupNormBackward(backend, x, dy, groups, weight, mean, var, eps, dx, dw, db);
          put(out, "y", y, "grad_input", dx, "grad_weight", dw, "grad_bias", db);
          break;
        }
        case "weight_std": {
          WsVariant variant = WsVariant.parse(c.param("variant"));
          double gamma = c.number("gamma");
          Shape perFilter = Shape.of(x.shape().dim(0));
          Tensor y = t.like(x), dx = t.like(x), dgain = t.like(gain);
          Tensor mean = t.zeros(perFilter), rstd = t.zeros(perFilter);
          Functional.weightStandardize(backend, x, variant, eps, gamma, gain, y, mean, rstd);
          Functional.weightStandardizeBackward(backend, x, dy, variant, eps, gamma, gain, mean, rstd, dx, dgain);
          put(out, "y", y, "grad_input", dx, "grad_gain", dgain);
          break;
        }
        case "std_conv2d": {
          WsVariant variant = WsVariant.parse(c.param("variant"));
          double gamma = c.number("gamma");
          Conv2dSpec spec = Conv2dSpec.of(c.pairElement("stride", 0), c.pairElement("stride", 1),
              c.pairElement("padding", 0), c.pairElement("padding", 1), c.pairElement("dilation", 0),
              c.pairElement("dilation", 1), (int) c.number("groups"));
          Shape perFilter = Shape.of(weight.shape().dim(0));
          Tensor wHat = t.like(weight), dwHat = t.like(weight), dw = t.like(weight), dgain = t.like(gain);
          Tensor mean = t.zeros(perFilter), rstd = t.zeros(perFilter);
          Tensor y = t.add(Tensor.zeros(spec.outputShape(x.shape(), weight.shape()), layout));
          Tensor dx = t.like(x), db = t.like(bias);
          Functional.weightStandardize(backend, weight, variant, eps, gamma, gain, wHat, mean, rstd);
          Functional.conv2d(backend, x, wHat, bias, spec, y);
          Functional.conv2dBackward(backend, x, wHat, dy, spec, dx, dwHat, db);
          Functional.weightStandardizeBackward(backend, weight, dwHat, variant, eps, gamma, gain, mean, rstd, dw,
              dgain);
          put(out, "y", y, "grad_input", dx, "grad_weight", dw, "grad_bias", db, "grad_gain", dgain);
          break;
        }
        default:
          throw new IllegalStateException(c + ": unknown op " + c.op);
      }
      return out;
    }
  }

  /** Puts name/tensor pairs whose tensor is non-null, as logical arrays. */
  private static void put(Map<String, float[]> out, Object... pairs) {
    for (int i = 0; i < pairs.length; i += 2) {
      if (pairs[i + 1] != null) out.put((String) pairs[i], ((Tensor) pairs[i + 1]).toArray());
    }
  }

  /** The tensors of one run, closed together; {@code like(null)} is null (an absent optional tensor). */
  private static final class Tensors implements AutoCloseable {
    private final List<Tensor> all = new ArrayList<>();

    Tensor add(Tensor t) {
      if (t != null) all.add(t);
      return t;
    }

    Tensor like(Tensor t) {
      return t == null ? null : add(Tensor.zeros(t.shape(), t.layout()));
    }

    Tensor zeros(Shape s) {
      return add(Tensor.zeros(s));
    }

    @Override
    public void close() {
      for (Tensor t : all) t.close();
    }
  }
}
