package dev.normkit.train;

import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One stage of the {@link Network}. Outputs and input gradients live in tensors the layer owns, allocated when a
 * batch of a new shape arrives and reused for every later batch of that shape, so a training step allocates nothing.
 */
abstract class Layer implements AutoCloseable {
  private final Map<String, Tensor> buffers = new HashMap<>();

  /** y for x, in a tensor of the layer's valid until its next forward. */
  abstract Tensor forward(Tensor x);

  /** dx for the gradient dy of the latest forward's output (null when the layer computes no input gradient). */
  abstract Tensor backward(Tensor dy);

  List<Parameter> parameters() {
    return List.of();
  }

  /** Training mode (batch statistics) or evaluation mode (running statistics); only batch norm cares. */
  void setTraining(boolean training) {}

  /** The layer's tensor called {@code name}, of {@code shape}: the one from the previous batch if it fits. */
  final Tensor buffer(String name, Shape shape, Layout layout) {
    Tensor t = buffers.get(name);
    if (t == null || !t.shape().equals(shape) || t.layout() != layout) {
      if (t != null) t.close();
      t = Tensor.empty(shape, layout);
      buffers.put(name, t);
    }
    return t;
  }

  @Override
  public void close() {
    buffers.values().forEach(Tensor::close);
    buffers.clear();
  }
}
