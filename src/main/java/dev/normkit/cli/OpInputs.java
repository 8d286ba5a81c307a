package dev.normkit.cli;

import dev.normkit.Tensor;

/**
 * The input tensors of one op, owned (and closed) by this object; absent ones are null. {@code x} is the activation
 * (for weight standardization: the weight being standardized); {@code weight} and {@code bias} the affine
 * parameters (for a standardized convolution: the raw filter and the bias); {@code gain} the per-filter gain of
 * scaled weight standardization.
 */
final class OpInputs implements AutoCloseable {
  Tensor x;
  Tensor weight;
  Tensor bias;
  Tensor runningMean;
  Tensor runningVar;
  Tensor gain;
  Tensor gradOutput;

  @Override
  public void close() {
    for (Tensor t : new Tensor[] {x, weight, bias, runningMean, runningVar, gain, gradOutput}) {
      if (t != null) t.close();
    }
  }
}
