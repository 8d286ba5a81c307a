package dev.normkit.train;

import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The seed's small CNN for 28 x 28 grey images and 10 classes:
 *
 * <pre>
 *   conv3x3(1 -&gt; 32, pad 1) -&gt; norm -&gt; ReLU -&gt; maxpool 2
 *   conv3x3(32 -&gt; 64, pad 1) -&gt; norm -&gt; ReLU -&gt; maxpool 2 -&gt; linear(64*7*7 -&gt; 10)
 * </pre>
 *
 * Activations are channels-last (oneDNN's fastest layout for convolution and normalization on CPUs). Weights are
 * initialised as PyTorch initialises Conv2d and Linear, uniform in +-1/sqrt(fan_in), drawn in this order from
 * {@code new SplittableRandom(seed)} as {@code (float) ((2 * nextDouble() - 1) / sqrt(fan_in))}: conv1 weight,
 * conv2 weight, linear weight, linear bias, each in PyTorch's (logical C) order. {@code tools/train/train_pytorch.py}
 * draws the same numbers, so both start from identical weights.
 */
public final class Network implements AutoCloseable {
  public static final int SIZE = 28, CLASSES = 10;
  static final int C1 = 32, C2 = 64;
  /** Activations' memory layout. */
  static final Layout LAYOUT = Layout.CHANNELS_LAST;

  private final List<Layer> layers = new ArrayList<>();

  public Network(NormKind norm, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    boolean ws = norm.standardizesWeights();
    float[] conv1 = uniform(random, C1 * 9, 9);
    float[] conv2 = uniform(random, C2 * C1 * 9, C1 * 9);
    int features = C2 * (SIZE / 4) * (SIZE / 4);
    float[] linearWeight = uniform(random, CLASSES * features, features);
    float[] linearBias = uniform(random, CLASSES, features);
    try {
      layers.add(new Conv(1, C1, ws, conv1, false));
      layers.add(Norm.of(norm, C1, SIZE));
      layers.add(new Relu());
      layers.add(new MaxPool());
      layers.add(new Conv(C1, C2, ws, conv2, true));
      layers.add(Norm.of(norm, C2, SIZE / 2));
      layers.add(new Relu());
      layers.add(new MaxPool());
      layers.add(new Linear(Shape.of(C2, SIZE / 4, SIZE / 4), CLASSES, LAYOUT, linearWeight, linearBias));
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /** PyTorch's default init of a weight with {@code fanIn} inputs: uniform in +-1/sqrt(fanIn). */
  private static float[] uniform(SplittableRandom random, int n, int fanIn) {
    double bound = 1.0 / Math.sqrt(fanIn);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) v[i] = (float) ((2 * random.nextDouble() - 1) * bound);
    return v;
  }

  /** A tensor for a batch of {@code n} images, (n, 1, 28, 28) in the network's layout; the caller closes it. */
  public static Tensor newBatch(int n) {
    return Tensor.zeros(Shape.of(n, 1, SIZE, SIZE), LAYOUT);
  }

  /** The logits (N, 10) for a batch of images; the tensor belongs to the network, valid until the next forward. */
  public Tensor forward(Tensor images) {
    Tensor t = images;
    for (Layer layer : layers) t = layer.forward(t);
    return t;
  }

  /** Backpropagates the gradient of the loss with respect to the latest logits into every parameter's gradient. */
  public void backward(Tensor logitsGrad) {
    Tensor g = logitsGrad;
    for (int i = layers.size() - 1; i >= 0; i--) g = layers.get(i).backward(g);
  }

  /** Every trainable tensor with its gradient, in layer order. */
  public List<Parameter> parameters() {
    List<Parameter> all = new ArrayList<>();
    for (Layer layer : layers) all.addAll(layer.parameters());
    return all;
  }

  /** Training mode: batch norm uses and updates batch statistics (PyTorch's {@code model.train()}). */
  public void train() {
    layers.forEach(l -> l.setTraining(true));
  }

  /** Evaluation mode: batch norm uses its running statistics (PyTorch's {@code model.eval()}). */
  public void eval() {
    layers.forEach(l -> l.setTraining(false));
  }

  @Override
  public void close() {
    layers.forEach(Layer::close);
    layers.clear();
  }
}
