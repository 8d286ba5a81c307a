package dev.normkit.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.Shape;
import dev.normkit.Tensor;
import java.lang.reflect.Field;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * SGD with momentum against the plain float update (PyTorch's formula, no flushing), step by step: the weights must
 * be bitwise those of the plain update, also while gradients stay 0 and the momentum decays through the subnormal
 * range, which the optimizer stores as 0 instead.
 */
class SgdTest {
  private static final float LR = 0.005f, MOMENTUM = 0.9f;

  @Test
  void weightsFollowThePlainUpdateBitwiseWhileTheMomentumDecaysToZero() throws Exception {
    int n = 64;
    SplittableRandom r = new SplittableRandom(11);
    float[] p = new float[n], buf = new float[n], g = new float[n];
    for (int i = 0; i < n; i++) p[i] = (float) (r.nextDouble() * 2 - 1);
    try (Tensor value = Tensor.of(p.clone(), Shape.of(n)); Tensor grad = Tensor.zeros(Shape.of(n))) {
      Sgd sgd = new Sgd(List.of(new Parameter("w", value, grad)), LR, MOMENTUM);
      Field f = Sgd.class.getDeclaredField("buffers");
      f.setAccessible(true);
      float[] kept = ((float[][]) f.get(sgd))[0];
      int plainSubnormalSteps = 0;
      for (int step = 0; step < 1500; step++) {
        // gradients of every size for 20 steps, then 0 for most elements (a dead unit), so that buf decays below
        // Float.MIN_NORMAL (about 150 steps later for a buf near 1e-30) and on to 0
        for (int i = 0; i < n; i++) {
          boolean dead = step >= 20 && i % 4 != 0;
          g[i] = dead ? 0f : (float) ((r.nextDouble() * 2 - 1) * Math.pow(10, -(i % 40)));
        }
        grad.copyFrom(g);
        sgd.step();
        for (int i = 0; i < n; i++) {
          buf[i] = MOMENTUM * buf[i] + g[i];
          p[i] -= LR * buf[i];
        }
        assertArrayEquals(p, value.toArray(), "weights after step " + step);
        if (subnormals(buf) > 0) plainSubnormalSteps++;
        assertEquals(0, subnormals(kept), "subnormal momentum values kept after step " + step);
      }
      assertTrue(plainSubnormalSteps > 100, "steps with subnormal momentum in the plain update: " + plainSubnormalSteps);
    }
  }

  private static int subnormals(float[] v) {
    int k = 0;
    for (float x : v) if (x != 0 && Math.abs(x) < Float.MIN_NORMAL) k++;
    return k;
  }
}
