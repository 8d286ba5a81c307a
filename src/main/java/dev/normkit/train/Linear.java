package dev.normkit.train;

import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.dnnl.DnnlInnerProduct;
import java.util.List;

/**
 * The classifier, PyTorch's {@code nn.Linear(C*H*W, classes)} on {@code flatten(x)}: y = flatten(x) . w^T + b, on
 * oneDNN's inner product. The weight is held as (classes, C, H, W) in x's layout, so that channels-last
 * activations need no reordering; its logical order is PyTorch's (classes, C*H*W) row-major order.
 */
final class Linear extends Layer {
  private final Tensor weight, bias, weightGrad, biasGrad;
  private Tensor input;

  /** @param weight (classes, C*H*W) in PyTorch's order, {@code bias} (classes) */
  Linear(Shape inputFeatures, int classes, Layout layout, float[] weight, float[] bias) {
    Shape shape = Shape.of(classes, inputFeatures.dim(0), inputFeatures.dim(1), inputFeatures.dim(2));
    this.weight = Tensor.of(weight, shape, layout);
    this.bias = Tensor.vector(bias);
    this.weightGrad = Tensor.zeros(shape, layout);
    this.biasGrad = Tensor.zeros(Shape.of(classes));
  }

  @Override
  Tensor forward(Tensor x) {
    input = x;
    Tensor y = buffer("y", DnnlInnerProduct.outputShape(x.shape(), weight.shape()), Layout.CHANNELS_FIRST);
    DnnlInnerProduct.forward(x, weight, bias, y);
    return y;
  }

  @Override
  Tensor backward(Tensor dy) {
    Tensor dx = buffer("dx", input.shape(), input.layout());
    DnnlInnerProduct.backwardData(dy, weight, dx);
    DnnlInnerProduct.backwardWeights(input, dy, weightGrad, biasGrad);
    return dx;
  }

  @Override
  List<Parameter> parameters() {
    return List.of(new Parameter("linear.weight", weight, weightGrad), new Parameter("linear.bias", bias, biasGrad));
  }

  @Override
  public void close() {
    weight.close();
    bias.close();
    weightGrad.close();
    biasGrad.close();
    super.close();
  }
}
