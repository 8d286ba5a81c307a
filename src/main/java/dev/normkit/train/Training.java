package dev.normkit.train;

import dev.normkit.Shape;
import dev.normkit.Tensor;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;

/**
 * Trains a fresh {@link Network} on one configuration and measures its test accuracy.
 *
 * <p>Each epoch visits the training images in a seeded random order, in batches of B (a last partial batch is
 * dropped, as {@code DataLoader(drop_last=True)}), with softmax cross-entropy and {@link Sgd} (momentum 0.9, no
 * weight decay). The order is a Fisher-Yates shuffle driven by {@code new SplittableRandom(seed + 1)}, continued
 * from epoch to epoch: for i = n-1 down to 1, j = (int) (nextDouble() * (i + 1)), swap order[i] and order[j]. The
 * PyTorch script reproduces it. Evaluation runs the test set in eval mode in batches of {@value #EVAL_BATCH}.
 */
public final class Training {
  public static final double MOMENTUM = 0.9;
  static final int EVAL_BATCH = 500;

  /** One configuration; {@code lr} NaN means {@link #defaultLearningRate}. */
  public record Config(NormKind norm, int batchSize, int epochs, double lr, long seed) {
    public double learningRate() {
      return Double.isNaN(lr) ? defaultLearningRate(batchSize) : lr;
    }
  }

  /**
   * The outcome: test accuracy in [0, 1], seconds of training (without data loading and evaluation), the mean
   * training loss of the last epoch, and the number of training images in the dataset.
   */
  public record Result(Config config, int trainImages, double testAccuracy, double seconds, double lastEpochLoss) {}

  /** Called after every step: epoch (from 1), steps done in the epoch, steps per epoch, the step's loss. */
  public interface Progress {
    void step(Config config, int epoch, int step, int steps, double loss);
  }

  private Training() {}

  /**
   * The learning rate used when none is given: 0.02 from batch 32 up, 0.01 from batch 4 to 31, 0.005 below
   * batch 4 (smaller batches give noisier gradients and need smaller steps).
   */
  public static double defaultLearningRate(int batchSize) {
    return batchSize >= 32 ? 0.02 : batchSize >= 4 ? 0.01 : 0.005;
  }

  public static Result run(Config config, FashionMnist.Split data, Progress progress) {
    FashionMnist.Dataset train = data.train();
    int b = config.batchSize();
    if (train.size() < b) {
      throw new IllegalArgumentException("batch size " + b + " exceeds the " + train.size() + " training images");
    }
    int steps = train.size() / b;
    int[] order = new int[train.size()];
    for (int i = 0; i < order.length; i++) order[i] = i;
    SplittableRandom shuffle = new SplittableRandom(config.seed() + 1);
    int[] labels = new int[b];
    try (Network net = new Network(config.norm(), config.seed());
        Tensor images = Network.newBatch(b);
        Tensor logitsGrad = Tensor.zeros(Shape.of(b, Network.CLASSES))) {
      Sgd sgd = new Sgd(net.parameters(), config.learningRate(), MOMENTUM);
      long start = System.nanoTime();
      double epochLoss = 0;
      for (int epoch = 1; epoch <= config.epochs(); epoch++) {
        net.train();
        shuffle(order, shuffle);
        epochLoss = 0;
        for (int step = 0; step < steps; step++) {
          fill(train, order, step * b, images, labels);
          Tensor logits = net.forward(images);
          double loss = SoftmaxCrossEntropy.lossAndGradient(logits, labels, logitsGrad);
          net.backward(logitsGrad);
          sgd.step();
          epochLoss += loss;
          if (progress != null) progress.step(config, epoch, step + 1, steps, loss);
        }
        epochLoss /= steps;
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      return new Result(config, train.size(), accuracy(net, data.test()), seconds, epochLoss);
    }
  }

  /** The fraction of {@code test} the network classifies correctly, in eval mode. */
  static double accuracy(Network net, FashionMnist.Dataset test) {
    net.eval();
    int hits = 0;
    int[] all = new int[test.size()];
    for (int i = 0; i < all.length; i++) all[i] = i;
    for (int start = 0; start < test.size(); start += EVAL_BATCH) {
      int n = Math.min(EVAL_BATCH, test.size() - start);
      int[] labels = new int[n];
      try (Tensor images = Network.newBatch(n)) {
        fill(test, all, start, images, labels);
        hits += SoftmaxCrossEntropy.correct(net.forward(images), labels);
      }
    }
    net.train();
    return (double) hits / test.size();
  }

  /** Fisher-Yates from the top, j = (int) (nextDouble() * (i + 1)): easy to reproduce in other languages. */
  static void shuffle(int[] order, SplittableRandom random) {
    for (int i = order.length - 1; i > 0; i--) {
      int j = (int) (random.nextDouble() * (i + 1));
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  }

  /** Copies the examples order[from .. from + labels.length) into the batch tensor and the label array. */
  private static void fill(FashionMnist.Dataset data, int[] order, int from, Tensor images, int[] labels) {
    FloatBuffer dst = images.buffer();
    int pixels = Network.SIZE * Network.SIZE;
    for (int i = 0; i < labels.length; i++) {
      int k = order[from + i];
      dst.put(data.images(), k * pixels, pixels);
      labels[i] = data.labels()[k];
    }
  }
}
