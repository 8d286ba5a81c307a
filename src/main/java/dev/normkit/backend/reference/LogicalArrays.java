package dev.normkit.backend.reference;

import dev.normkit.Tensor;

/** Moves tensors to and from double arrays in logical C order, the reference's working form. */
final class LogicalArrays {
  private LogicalArrays() {}

  static double[] read(Tensor t) {
    float[] f = t.toArray();
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) d[i] = f[i];
    return d;
  }

  /** null for a null tensor. */
  static double[] readOptional(Tensor t) {
    return t == null ? null : read(t);
  }

  /** Writes {@code values} rounded to float; a null tensor is skipped. */
  static void write(Tensor t, double[] values) {
    if (t == null) return;
    float[] f = new float[values.length];
    for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
    t.copyFrom(f);
  }
}
