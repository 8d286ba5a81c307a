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
 *
 * <p>A momentum value that decays below the smallest normal float ({@link Float#MIN_NORMAL}, about 1.2e-38) is
 * stored as 0. A weight whose gradient stays 0 (a unit behind a ReLU that never fires) has its buf multiplied by the
 * momentum at every step, into the subnormal range; arithmetic on subnormal floats takes a microcode assist of
 * about a hundred cycles on Intel cores, and Java cannot turn that off (no flush-to-zero mode). Half of the linear
 * layer's 31,360 momentum values were subnormal after 3,000 batch-2 steps, and the update took 180-200 us instead of
 * 17-24 us (Xeon VM, a quarter of a batch-2 training step). The flush is a second pass after the update, so that the
 * update loop stays vectorized and a value is subnormal for one step only: 57 us in that state, 34 us with no
 * subnormal values. The update itself is unchanged, so the weights are bitwise those of the plain update (SgdTest);
 * only buf differs, by less than 2^-126, and a later gradient g far above 2^-126 makes buf = g either way.
 * The sweep (`train --sweep`, 1 and 2 threads) gave the same accuracies and final losses to the last digit.
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
      for (int j = 0; j < p.length; j++) {
        if (Math.abs(buf[j]) < Float.MIN_NORMAL) buf[j] = 0f;  // subnormal (or -0) -> 0, see the class comment
      }
      FloatBuffer target = parameters.get(i).value().buffer();
      target.put(p);
    }
  }
}
