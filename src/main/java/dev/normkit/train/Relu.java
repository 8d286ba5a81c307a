package dev.normkit.train;

import dev.normkit.Tensor;
import dev.normkit.backend.dnnl.DnnlRelu;

/** ReLU in place on oneDNN: y = max(x, 0) overwrites x, dx = dy * (y &gt; 0) overwrites dy. */
final class Relu extends Layer {
  private Tensor output;

  @Override
  Tensor forward(Tensor x) {
    DnnlRelu.forward(x, x);
    output = x;
    return x;
  }

  @Override
  Tensor backward(Tensor dy) {
    DnnlRelu.backward(dy, output, dy);
    return dy;
  }
}
