package dev.normkit.train;

import dev.normkit.BatchNorm;
import dev.normkit.GroupNorm;
import dev.normkit.InstanceNorm;
import dev.normkit.LayerNorm;
import dev.normkit.Tensor;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * The normalization after a convolution: one of normkit's layers ({@link BatchNorm}, {@link GroupNorm},
 * {@link InstanceNorm}, {@link LayerNorm}) with its defaults (eps 1e-5, momentum 0.1, gamma = 1, beta = 0), seen
 * through the {@link Layer} interface.
 */
final class Norm extends Layer {
  private final AutoCloseable layer;
  private final BiConsumer<Tensor, Tensor> forward, backward;
  private final List<Parameter> parameters;
  private final BatchNorm batchNorm;
  private Tensor input;

  private Norm(AutoCloseable layer, BiConsumer<Tensor, Tensor> forward, BiConsumer<Tensor, Tensor> backward,
      Tensor weight, Tensor weightGrad, Tensor bias, Tensor biasGrad) {
    this.layer = layer;
    this.forward = forward;
    this.backward = backward;
    this.parameters = List.of(new Parameter("norm.weight", weight, weightGrad), new Parameter("norm.bias", bias, biasGrad));
    this.batchNorm = layer instanceof BatchNorm ? (BatchNorm) layer : null;
  }

  /** The norm of kind {@code kind} over feature maps of {@code channels} x {@code size} x {@code size}. */
  static Norm of(NormKind kind, long channels, long size) {
    switch (kind) {
      case BN: {
        BatchNorm n = BatchNorm.builder(channels).build();
        return new Norm(n, n::forward, n::backward, n.weight(), n.weightGrad(), n.bias(), n.biasGrad());
      }
      case GN:
      case GNWS: {
        GroupNorm n = GroupNorm.builder(NormKind.GROUPS, channels).build();
        return new Norm(n, n::forward, n::backward, n.weight(), n.weightGrad(), n.bias(), n.biasGrad());
      }
      case IN: {
        InstanceNorm n = InstanceNorm.builder(channels).affine(true).build();
        return new Norm(n, n::forward, n::backward, n.weight(), n.weightGrad(), n.bias(), n.biasGrad());
      }
      case LN: {
        LayerNorm n = LayerNorm.builder(channels, size, size).build();
        return new Norm(n, n::forward, n::backward, n.weight(), n.weightGrad(), n.bias(), n.biasGrad());
      }
      default:
        throw new IllegalArgumentException("no norm layer for " + kind);
    }
  }

  @Override
  Tensor forward(Tensor x) {
    input = x;
    Tensor y = buffer("y", x.shape(), x.layout());
    forward.accept(x, y);
    return y;
  }

  @Override
  Tensor backward(Tensor dy) {
    Tensor dx = buffer("dx", input.shape(), input.layout());
    backward.accept(dy, dx);
    return dx;
  }

  @Override
  List<Parameter> parameters() {
    return parameters;
  }

  @Override
  void setTraining(boolean training) {
    if (batchNorm != null) {
      if (training) batchNorm.train();
      else batchNorm.eval();
    }
  }

  @Override
  public void close() {
    try {
      layer.close();
    } catch (Exception e) {
      throw new IllegalStateException("closing " + layer, e);
    }
    super.close();
  }
}
