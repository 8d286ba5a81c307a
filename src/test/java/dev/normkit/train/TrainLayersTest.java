package dev.normkit.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The layers {@code normkit train} adds on oneDNN (max pool, ReLU, inner product) against double-precision Java
 * loops over logical indices, the loss gradient against finite differences, and the whole network's parameter
 * gradients, per norm, against central finite differences of the loss.
 *
 * <p>Tolerances: the oneDNN layers do float32 arithmetic on sums of at most 3136 products of values below 4, so
 * 1e-4 relative to the largest magnitude bounds their rounding (max pool and ReLU only copy, and are exact). The
 * network check perturbs one weight by h = 1e-3 in a float32 network: the loss's float rounding (about 1e-7 of 2.3)
 * divided by 2h gives an error near 1e-4, and ReLU and max-pool kinks crossed within h a few percent, hence
 * |fd - grad| &lt;= 2e-3 + 0.05 |grad|, checked on the three entries with the largest gradients of each parameter
 * that are not at a kink: Fashion-MNIST's constant background makes exact max-pool ties, where the one-sided
 * derivatives differ and backward rightly picks one of them.
 */
class TrainLayersTest {
  private static final Layout NHWC = Layout.CHANNELS_LAST;

  private static float[] random(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) v[i] = (float) (2 * r.nextDouble() - 1);
    return v;
  }

  private static void assertClose(double[] expected, float[] actual, double rtol) {
    double scale = 0;
    for (double e : expected) scale = Math.max(scale, Math.abs(e));
    for (int i = 0; i < expected.length; i++) {
      assertTrue(Math.abs(expected[i] - actual[i]) <= rtol * scale,
          "element " + i + ": expected " + expected[i] + ", got " + actual[i]);
    }
  }

  /** A small shape, and one of 2^20 values: large enough for oneDNN to run on every requested thread. */
  static List<Shape> poolShapes() {
    return List.of(Shape.of(3, 5, 6, 4), Shape.of(4, 16, 128, 128));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("poolShapes")
  void maxPoolForwardAndBackwardRouteThroughTheArgmax(Shape xs) {
    int nn = (int) xs.dim(0), cc = (int) xs.dim(1), hh = (int) xs.dim(2), ww = (int) xs.dim(3);
    Shape ys = Shape.of(nn, cc, hh / 2, ww / 2);
    float[] x = random((int) xs.elementCount(), 1);
    float[] dy = random((int) ys.elementCount(), 2);
    try (MaxPool pool = new MaxPool(); Tensor xt = Tensor.of(x, xs, NHWC); Tensor dyt = Tensor.of(dy, ys, NHWC)) {
      float[] y = pool.forward(xt).toArray();
      float[] dx = pool.backward(dyt).toArray();
      double[] ey = new double[y.length], edx = new double[x.length];
      int o = 0;
      for (int n = 0; n < nn; n++) for (int c = 0; c < cc; c++) for (int i = 0; i < hh / 2; i++) for (int j = 0; j < ww / 2; j++) {
        int best = -1;
        for (int a = 0; a < 2; a++) for (int b = 0; b < 2; b++) {
          int k = ((n * cc + c) * hh + 2 * i + a) * ww + 2 * j + b;
          if (best < 0 || x[k] > x[best]) best = k;
        }
        ey[o] = x[best];
        edx[best] += dy[o++];
      }
      assertClose(ey, y, 0);
      assertClose(edx, dx, 0);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("poolShapes")
  void reluInPlace(Shape s) {
    float[] x = random((int) s.elementCount(), 3);
    float[] dy = random(x.length, 4);
    try (Relu relu = new Relu(); Tensor xt = Tensor.of(x, s, NHWC); Tensor dyt = Tensor.of(dy, s, NHWC)) {
      float[] y = relu.forward(xt).toArray();
      float[] dx = relu.backward(dyt).toArray();
      double[] ey = new double[x.length], edx = new double[x.length];
      for (int i = 0; i < x.length; i++) {
        ey[i] = Math.max(x[i], 0);
        edx[i] = x[i] > 0 ? dy[i] : 0;
      }
      assertClose(ey, y, 0);
      assertClose(edx, dx, 0);
    }
  }

  @Test
  void linearMatchesDoubleLoopsInChannelsLast() {
    int n = 3, c = 8, h = 7, w = 7, k = 10, f = c * h * w;
    float[] x = random(n * f, 5), wt = random(k * f, 6), b = random(k, 7), dy = random(n * k, 8);
    try (Linear linear = new Linear(Shape.of(c, h, w), k, NHWC, wt, b);
        Tensor xt = Tensor.of(x, Shape.of(n, c, h, w), NHWC);
        Tensor dyt = Tensor.of(dy, Shape.of(n, k))) {
      float[] y = linear.forward(xt).toArray();
      float[] dx = linear.backward(dyt).toArray();
      double[] ey = new double[n * k], edx = new double[n * f], edw = new double[k * f], edb = new double[k];
      for (int i = 0; i < n; i++) {
        for (int o = 0; o < k; o++) {
          double s = b[o];
          for (int j = 0; j < f; j++) {
            s += (double) x[i * f + j] * wt[o * f + j];
            edx[i * f + j] += (double) dy[i * k + o] * wt[o * f + j];
            edw[o * f + j] += (double) dy[i * k + o] * x[i * f + j];
          }
          ey[i * k + o] = s;
          edb[o] += dy[i * k + o];
        }
      }
      assertClose(ey, y, 1e-4);
      assertClose(edx, dx, 1e-4);
      assertClose(edw, linear.parameters().get(0).grad().toArray(), 1e-4);
      assertClose(edb, linear.parameters().get(1).grad().toArray(), 1e-4);
    }
  }

  @Test
  void softmaxCrossEntropyGradientIsTheLossDerivative() {
    int n = 4, k = 10;
    float[] z = random(n * k, 9);
    int[] labels = {3, 0, 9, 3};
    try (Tensor logits = Tensor.of(z, Shape.of(n, k)); Tensor grad = Tensor.zeros(Shape.of(n, k))) {
      double loss = SoftmaxCrossEntropy.lossAndGradient(logits, labels, grad);
      float[] g = grad.toArray();
      double h = 1e-3;
      for (int i = 0; i < z.length; i++) {
        double plus = lossAt(z, i, h, labels), minus = lossAt(z, i, -h, labels);
        assertEquals((plus - minus) / (2 * h), g[i], 1e-5, "logit " + i);
      }
      assertEquals(lossAt(z, 0, 0, labels), loss, 1e-12);
    }
  }

  private static double lossAt(float[] z, int i, double delta, int[] labels) {
    int k = 10, n = labels.length;
    double loss = 0;
    for (int r = 0; r < n; r++) {
      double sum = 0;
      for (int j = 0; j < k; j++) sum += Math.exp(z[r * k + j] + (r * k + j == i ? delta : 0));
      loss += Math.log(sum) - (z[r * k + labels[r]] + (r * k + labels[r] == i ? delta : 0));
    }
    return loss / n;
  }

  @ParameterizedTest
  @EnumSource(NormKind.class)
  void networkGradientsMatchFiniteDifferences(NormKind norm) throws Exception {
    FashionMnist.Dataset data = FashionMnist.subset().train();
    int batch = 4;
    int[] labels = java.util.Arrays.copyOf(data.labels(), batch);
    try (Network net = new Network(norm, 7);
        Tensor images = Network.newBatch(batch);
        Tensor grad = Tensor.zeros(Shape.of(batch, Network.CLASSES))) {
      images.buffer().put(data.images(), 0, batch * Network.SIZE * Network.SIZE);
      SoftmaxCrossEntropy.lossAndGradient(net.forward(images), labels, grad);
      net.backward(grad);
      for (Parameter p : net.parameters()) {
        FloatBuffer g = p.grad().buffer();
        int n = g.capacity();
        float[] grads = new float[n];
        g.get(grads);
        // the entries with the largest gradients first: the most signal over float rounding
        Integer[] idx = new Integer[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (a, b) -> Float.compare(Math.abs(grads[b]), Math.abs(grads[a])));
        int checked = 0;
        for (int r = 0; r < Math.min(n, 20) && checked < 3; r++) {
          int i = idx[r];
          double h = 1e-3;
          FloatBuffer v = p.value().buffer();
          float original = v.get(i);
          double centre = loss(net, images, labels);
          v.put(i, (float) (original + h));
          double plus = loss(net, images, labels);
          v.put(i, (float) (original - h));
          double minus = loss(net, images, labels);
          v.put(i, original);
          // a kink (a max-pool tie on the images' constant background, a ReLU at 0) has no derivative: skip it
          if (Math.abs((plus - centre) - (centre - minus)) / h > 2e-3 + 0.05 * Math.abs(grads[i])) continue;
          double fd = (plus - minus) / (2 * h);
          assertTrue(Math.abs(fd - grads[i]) <= 2e-3 + 0.05 * Math.abs(grads[i]),
              norm + " " + p.name() + "[" + i + "]: finite difference " + fd + ", backward " + grads[i]);
          checked++;
        }
        assertEquals(3, checked, norm + " " + p.name() + ": fewer than 3 of the top 20 entries away from kinks");
      }
    }
  }

  private static double loss(Network net, Tensor images, int[] labels) {
    try (Tensor scratch = Tensor.zeros(Shape.of(labels.length, Network.CLASSES))) {
      return SoftmaxCrossEntropy.lossAndGradient(net.forward(images), labels, scratch);
    }
  }
}
