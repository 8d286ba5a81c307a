package dev.normkit.train;

import dev.normkit.Tensor;
import java.nio.FloatBuffer;

/**
 * Softmax cross-entropy averaged over the batch, PyTorch's {@code F.cross_entropy(z, labels)}, with its gradient:
 *
 * <pre>
 *   loss = 1/N sum_n ( log sum_k exp(z[n, k]) - z[n, label[n]] )
 *   dz[n, k] = ( softmax(z[n])[k] - [k == label[n]] ) / N
 * </pre>
 *
 * Computed in double per row, with the row maximum subtracted before exp.
 */
public final class SoftmaxCrossEntropy {
  private SoftmaxCrossEntropy() {}

  /** The loss of logits z (N, K) against labels, and dz into {@code grad} (N, K). */
  public static double lossAndGradient(Tensor logits, int[] labels, Tensor grad) {
    FloatBuffer z = logits.buffer(), dz = grad.buffer();
    int n = Math.toIntExact(logits.shape().dim(0)), k = Math.toIntExact(logits.shape().dim(1));
    double loss = 0;
    double[] p = new double[k];
    for (int row = 0; row < n; row++) {
      int base = row * k;
      double max = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < k; j++) max = Math.max(max, z.get(base + j));
      double sum = 0;
      for (int j = 0; j < k; j++) sum += p[j] = Math.exp(z.get(base + j) - max);
      loss += Math.log(sum) + max - z.get(base + labels[row]);
      for (int j = 0; j < k; j++) dz.put(base + j, (float) ((p[j] / sum - (j == labels[row] ? 1 : 0)) / n));
    }
    return loss / n;
  }

  /** How many rows of z (N, K) have their largest logit at the label (the first maximum on ties). */
  public static int correct(Tensor logits, int[] labels) {
    FloatBuffer z = logits.buffer();
    int n = Math.toIntExact(logits.shape().dim(0)), k = Math.toIntExact(logits.shape().dim(1));
    int hits = 0;
    for (int row = 0; row < n; row++) {
      int best = 0;
      for (int j = 1; j < k; j++) if (z.get(row * k + j) > z.get(row * k + best)) best = j;
      if (best == labels[row]) hits++;
    }
    return hits;
  }
}
