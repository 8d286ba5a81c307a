package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class BatchNormLayerTest {
  private static final Shape SHAPE = Shape.of(6, 3, 4, 5);

  /** Per-channel mean and biased variance of a logical (N, C, S) array, in double. */
  private static double[][] channelStats(float[] x, Shape s) {
    int n = (int) s.batch(), c = (int) s.channels(), sp = (int) s.spatialSize();
    double[] mean = new double[c], var = new double[c];
    for (int ch = 0; ch < c; ch++) {
      double sum = 0;
      for (int b = 0; b < n; b++) for (int i = 0; i < sp; i++) sum += x[(b * c + ch) * sp + i];
      mean[ch] = sum / (n * sp);
      double sq = 0;
      for (int b = 0; b < n; b++) {
        for (int i = 0; i < sp; i++) {
          double d = x[(b * c + ch) * sp + i] - mean[ch];
          sq += d * d;
        }
      }
      var[ch] = sq / (n * sp);
    }
    return new double[][] {mean, var};
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void trainingUpdatesRunningStatisticsWithUnbiasedVariance(Backend backend) {
    float[] a = TestData.normal(11, (int) SHAPE.elementCount(), 1.5, 3);
    float[] b = TestData.normal(12, (int) SHAPE.elementCount(), -0.5, 0.7);
    double m = 0.3;
    try (BatchNorm bn = BatchNorm.builder(3).momentum(m).backend(backend).build();
        Tensor xa = Tensor.of(a, SHAPE, Layout.CHANNELS_LAST);
        Tensor xb = Tensor.of(b, SHAPE, Layout.CHANNELS_FIRST);
        Tensor ya = bn.forward(xa);
        Tensor yb = bn.forward(xb)) {
      double n = SHAPE.batch() * SHAPE.spatialSize();
      double[][] sa = channelStats(a, SHAPE), sb = channelStats(b, SHAPE);
      float[] expMean = new float[3], expVar = new float[3];
      for (int c = 0; c < 3; c++) {
        double rm = (1 - m) * 0 + m * sa[0][c];
        double rv = (1 - m) * 1 + m * sa[1][c] * n / (n - 1);
        expMean[c] = (float) ((1 - m) * rm + m * sb[0][c]);
        expVar[c] = (float) ((1 - m) * rv + m * sb[1][c] * n / (n - 1));
      }
      // two momentum steps of float32 statistics: a few ulps of the values
      Close.assertClose("running mean", bn.runningMean().toArray(), expMean, 1e-6, 1e-6);
      Close.assertClose("running var", bn.runningVar().toArray(), expVar, 1e-6, 1e-6);
      Close.assertClose("saved var", bn.savedVar().toArray(), toFloat(sb[1]), 1e-6, 1e-6);
    }
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void evalUsesRunningStatisticsAndBackwardIsLinear(Backend backend) {
    float[] a = TestData.normal(21, (int) SHAPE.elementCount(), 0, 1);
    try (BatchNorm bn = BatchNorm.builder(3).backend(backend).build()) {
      bn.runningMean().copyFrom(new float[] {0.5f, -1f, 2f});
      bn.runningVar().copyFrom(new float[] {4f, 0.25f, 1f});
      bn.weight().copyFrom(new float[] {2f, 1f, -1f});
      bn.bias().copyFrom(new float[] {0f, 3f, 1f});
      bn.eval();
      try (Tensor x = Tensor.of(a, SHAPE); Tensor y = bn.forward(x); Tensor dy = Tensor.of(a, SHAPE);
          Tensor dx = bn.backward(dy)) {
        float[] ys = y.toArray(), dxs = dx.toArray();
        float[] rm = {0.5f, -1f, 2f}, rv = {4f, 0.25f, 1f}, g = {2f, 1f, -1f}, be = {0f, 3f, 1f};
        int sp = (int) SHAPE.spatialSize();
        float[] ey = new float[a.length], edx = new float[a.length];
        for (int i = 0; i < a.length; i++) {
          int c = (i / sp) % 3;
          double rstd = 1 / Math.sqrt(rv[c] + 1e-5);
          ey[i] = (float) ((a[i] - rm[c]) * rstd * g[c] + be[c]);
          edx[i] = (float) (a[i] * g[c] * rstd);
        }
        Close.assertClose("eval y", ys, ey, 1e-6, 1e-6);
        Close.assertClose("eval dx", dxs, edx, 1e-6, 1e-6);
        assertEquals(0.5f, bn.runningMean().get(0), "eval must not move running statistics");
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void closeIsIdempotentAndUseAfterCloseThrows(Backend backend) {
    BatchNorm bn = BatchNorm.builder(3).backend(backend).build();
    bn.close();
    bn.close();
    try (Tensor x = Tensor.zeros(SHAPE)) {
      assertThrows(IllegalStateException.class, () -> bn.forward(x));
      assertThrows(IllegalStateException.class, bn::weight);
    }
  }

  private static float[] toFloat(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
    return f;
  }
}
