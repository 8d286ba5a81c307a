package dev.normkit.train;

import java.nio.FloatBuffer;
import java.util.List;

/**
 * Stochastic gradient descent with momentum, as PyTorch's {@code torch.optim.SGD(params, lr, momentum)} (no
 * dampening, no weight decay, not Nesterov), per parameter element:
 *
 * <pre>
 *   buf = momentum * buf + grad        (buf starts at 0, so the first step has buf = grad)
 *   p   = p - lr * buf
 * </pre>
 *
 * Parameters are copied to and from Java arrays in bulk, so the update loop runs on arrays.
 */
public final class Sgd {
  private final List<Parameter> parameters;
  private final float lr, momentum;
  private final float[][] values, buffers;
  private final float[] grad;

  public Sgd(List<Parameter> parameters, double lr, double momentum) {
    this.parameters = List.copyOf(parameters);
    this.lr = (float) lr;
    this.momentum = (float) momentum;
    this.values = new float[parameters.size()][];
    this.buffers = new float[parameters.size()][];
    int largest = 0;
    for (int i = 0; i < parameters.size(); i++) {
      int n = Math.toIntExact(parameters.get(i).value().elementCount());
      values[i] = new float[n];
      parameters.get(i).value().buffer().get(values[i]);
      buffers[i] = new float[n];
      largest = Math.max(largest, n);
    }
    this.grad = new float[largest];
  }

  /** One update of every parameter from its current gradient. */
  public void step() {
    for (int i = 0; i < values.length; i++) {
      float[] p = values[i], buf = buffers[i];
      parameters.get(i).grad().buffer().get(grad, 0, p.length);
      for (int j = 0; j < p.length; j++) {
        buf[j] = momentum * buf[j] + grad[j];
        p[j] -= lr * buf[j];
      }
      FloatBuffer target = parameters.get(i).value().buffer();
      target.put(p);
    }
  }
}
