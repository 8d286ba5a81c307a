package dev.normkit.train;

import dev.normkit.Backend;
import dev.normkit.Conv2dSpec;
import dev.normkit.Functional;
import dev.normkit.Shape;
import dev.normkit.StdConv2d;
import dev.normkit.Tensor;
import java.util.List;

/**
 * A 3x3 convolution with padding 1 and no bias (the norm that follows has one), PyTorch's
 * {@code nn.Conv2d(in, out, 3, padding=1, bias=False)}: plain, {@code y = conv2d(x, w)}, or weight-standardized,
 * {@code y = conv2d(x, WS(w))} with normkit's {@link StdConv2d}. Both run on oneDNN's convolution primitives
 * ({@link Backend#ONEDNN}; the default backend would take Winograd for the batch-32 second convolution), as the
 * example's spec asks: oneDNN for convolution, pooling, ReLU and the linear layer, normkit for the norms and WS.
 */
final class Conv extends Layer {
  private static final Conv2dSpec SPEC = Conv2dSpec.of(1, 1, 1, 1);
  private static final Backend CONVOLUTION = Backend.ONEDNN;

  private final StdConv2d standardized;
  private final Tensor weight, weightGrad;
  private final boolean inputGradient;
  private Tensor input;

  /**
   * @param weight the initial weight (out, in, 3, 3) in logical order
   * @param inputGradient whether backward computes dx (not for the first layer)
   */
  Conv(long in, long out, boolean standardize, float[] weight, boolean inputGradient) {
    Shape shape = Shape.of(out, in, 3, 3);
    this.inputGradient = inputGradient;
    if (standardize) {
      standardized = StdConv2d.builder(in, out, 3).padding(1).bias(false).backend(CONVOLUTION).build();
      this.weight = standardized.weight();
      this.weightGrad = standardized.weightGrad();
    } else {
      standardized = null;
      this.weight = Tensor.zeros(shape);
      this.weightGrad = Tensor.zeros(shape);
    }
    this.weight.copyFrom(weight);
  }

  @Override
  Tensor forward(Tensor x) {
    input = x;
    Tensor y = buffer("y", SPEC.outputShape(x.shape(), weight.shape()), x.layout());
    if (standardized != null) standardized.forward(x, y);
    else Functional.conv2d(CONVOLUTION, x, weight, null, SPEC, y);
    return y;
  }

  @Override
  Tensor backward(Tensor dy) {
    Tensor dx = inputGradient ? buffer("dx", input.shape(), input.layout()) : null;
    if (standardized != null) standardized.backward(dy, dx);
    else Functional.conv2dBackward(CONVOLUTION, input, weight, dy, SPEC, dx, weightGrad, null);
    return dx;
  }

  @Override
  List<Parameter> parameters() {
    return List.of(new Parameter(standardized != null ? "std_conv.weight" : "conv.weight", weight, weightGrad));
  }

  @Override
  public void close() {
    if (standardized != null) {
      standardized.close();
    } else {
      weight.close();
      weightGrad.close();
    }
    super.close();
  }
}
