package dev.normkit;

import java.nio.FloatBuffer;

/**
 * The running-statistics update of PyTorch's batch and instance norm in training mode:
 *
 * <pre>
 *   running_mean = (1 - momentum) * running_mean + momentum * mean
 *   running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)      (unbiased!)
 * </pre>
 *
 * where mean and var (biased) are the batch statistics over n values per channel. oneDNN returns the biased
 * variance only, hence this step in Java, shared by every backend.
 */
final class RunningStatistics {
  private RunningStatistics() {}

  /** Batch norm: {@code mean}, {@code var} have shape (C), each over n = N * spatial values. */
  static void update(Tensor runningMean, Tensor runningVar, Tensor mean, Tensor var, long n, double momentum) {
    try (RetainedTensors held = retain(runningMean, runningVar, mean, var)) {
      FloatBuffer rm = runningMean.sharedView(), rv = runningVar.sharedView();
      FloatBuffer m = mean.sharedView(), v = var.sharedView();
      double bessel = n / (double) (n - 1);
      for (int c = 0, channels = rm.capacity(); c < channels; c++) {
        rm.put(c, (float) ((1 - momentum) * rm.get(c) + momentum * m.get(c)));
        rv.put(c, (float) ((1 - momentum) * rv.get(c) + momentum * v.get(c) * bessel));
      }
    }
  }

  /**
   * Instance norm: {@code mean}, {@code var} have shape (N, C), each over n = spatial values; the running statistics
   * move towards their averages over the batch (of the means, and of the unbiased variances).
   */
  static void updateFromInstances(
      Tensor runningMean, Tensor runningVar, Tensor mean, Tensor var, long n, double momentum) {
    try (RetainedTensors held = retain(runningMean, runningVar, mean, var)) {
      FloatBuffer rm = runningMean.sharedView(), rv = runningVar.sharedView();
      FloatBuffer m = mean.sharedView(), v = var.sharedView();
      int channels = rm.capacity();
      int batch = m.capacity() / channels;
      double bessel = n / (double) (n - 1);
      for (int c = 0; c < channels; c++) {
        double meanSum = 0, varSum = 0;
        for (int b = 0; b < batch; b++) {
          meanSum += m.get(b * channels + c);
          varSum += v.get(b * channels + c) * bessel;
        }
        rm.put(c, (float) ((1 - momentum) * rm.get(c) + momentum * meanSum / batch));
        rv.put(c, (float) ((1 - momentum) * rv.get(c) + momentum * varSum / batch));
      }
    }
  }

  /** The four tensors retained for the update, whose views are used until the scope closes. */
  private static RetainedTensors retain(Tensor runningMean, Tensor runningVar, Tensor mean, Tensor var) {
    RetainedTensors held = RetainedTensors.open();
    try {
      held.pointer(runningMean);
      held.pointer(runningVar);
      held.pointer(mean);
      held.pointer(var);
      return held;
    } catch (RuntimeException e) {
      held.close();
      throw e;
    }
  }
}
