package dev.normkit.backend.reference;

import static org.junit.jupiter.api.Assertions.fail;

import dev.normkit.Conv2dSpec;
import dev.normkit.Shape;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference checks of the reference's backward passes, in double precision on the reference's own double
 * arrays (this test lives in the reference's package for that): for a loss L = sum(r * y) with random r, each
 * analytic gradient entry (backward with dy = r) must match the central difference (L(p + h) - L(p - h)) / 2h.
 *
 * <p>Tolerance: with h = 1e-4 on values of order 1, the central difference's truncation error is about h^2 / 6 *
 * |L'''| ~ 1e-9 and its rounding error about 1e-16 * |L| / h ~ 1e-11; measured worst |fd - analytic| / (1 +
 * |analytic|) over these cases was 2.1e-9 (normalization dx; dgamma and dbeta, where the loss is linear, 1.4e-11;
 * convolution, linear in every input, 1e-10). The bound 1e-7 leaves a wide margin and still catches any wrong term,
 * which errs by O(1). Inputs are uniform with the stated mean and standard deviation.
 */
class ReferenceGradientCheckTest {
  private static final double H = 1e-4;
  private static final double TOLERANCE = 1e-7;
  private static final double EPS = 1e-5;

  @Test
  void batchNormTrainingGradients() {
    for (Shape s : new Shape[] {Shape.of(3, 4, 5), Shape.of(2, 3, 2, 2), Shape.of(4, 2)}) {
      int c = (int) s.channels();
      checkNormalization("BN " + s, ReferenceBatchNorm.sets(s), c, s, 10);
    }
  }

  @Test
  void batchNormEvalGradients() {
    Shape s = Shape.of(3, 4, 5);
    int c = 4;
    NormalizationSets sets = ReferenceBatchNorm.sets(s);
    double[] x = uniform(20, s.elementCount(), 0.5, 2);
    double[] r = uniform(21, s.elementCount(), 0, 1);
    double[] gamma = uniform(22, c, 1, 0.5);
    double[] beta = uniform(23, c, 0, 1);
    double[] mean = uniform(24, c, 0, 1);
    double[] rstd = NormalizationSets.rstd(uniform(25, c, 1.5, 0.2), EPS);
    DoubleSupplier loss = () -> dot(r, sets.normalize(x, mean, rstd, gamma, beta));
    NormalizationSets.Gradients g = sets.backward(x, r, mean, rstd, gamma, c, true);
    check("BN eval dx", x, loss, g.dx);
    check("BN eval dgamma", gamma, loss, g.dgamma);
    check("BN eval dbeta", beta, loss, g.dbeta);
  }

  @Test
  void layerNormGradients() {
    Shape s = Shape.of(2, 3, 4);
    for (int k = 1; k <= 3; k++) {
      int d = (int) s.product(3 - k, 3);
      checkNormalization("LN " + s + " normalized dims " + k, ReferenceLayerNorm.sets(s, k), d, s, 30 + k);
    }
  }

  @Test
  void groupNormGradients() {
    Shape s = Shape.of(2, 6, 3);
    for (int groups : new int[] {1, 2, 3, 6}) {
      checkNormalization("GN " + s + " groups " + groups, ReferenceGroupNorm.sets(s, groups), 6, s, 40 + groups);
    }
  }

  @Test
  void convolutionGradients() {
    Object[][] cases = {
      {Shape.of(2, 3, 5, 5), Shape.of(4, 3, 3, 3), Conv2dSpec.of(1, 1, 1, 1)},
      {Shape.of(1, 4, 7, 6), Shape.of(6, 2, 3, 2), Conv2dSpec.of(2, 1, 0, 1, 2, 1, 2)},
      {Shape.of(2, 4, 6, 6), Shape.of(4, 1, 3, 3), Conv2dSpec.of(1, 2, 2, 4)},
    };
    long seed = 50;
    for (Object[] c : cases) {
      Shape xs = (Shape) c[0], ws = (Shape) c[1];
      Conv2dSpec spec = (Conv2dSpec) c[2];
      Shape ys = spec.outputShape(xs, ws);
      double[] x = uniform(seed++, xs.elementCount(), 0, 1);
      double[] w = uniform(seed++, ws.elementCount(), 0, 1);
      double[] b = uniform(seed++, ws.dim(0), 0, 1);
      double[] r = uniform(seed++, ys.elementCount(), 0, 1);
      DoubleSupplier loss = () -> dot(r, ReferenceConvolution.forward(x, xs, w, ws, b, spec));
      String what = "conv x " + xs + " w " + ws + " " + spec;
      check(what + " dx", x, loss, ReferenceConvolution.backwardData(r, w, xs, ws, spec));
      check(what + " dw", w, loss, ReferenceConvolution.backwardWeights(x, r, xs, ws, spec));
      check(what + " dbias", b, loss, ReferenceConvolution.biasGradient(r, ys));
    }
  }

  /** Training-mode backward (statistics recomputed from x in the loss), with and without affine parameters. */
  private static void checkNormalization(String what, NormalizationSets sets, int params, Shape s, long seed) {
    double[] x = uniform(seed, s.elementCount(), 0.5, 2);
    double[] r = uniform(seed + 1, s.elementCount(), 0, 1);
    double[] gamma = uniform(seed + 2, params, 1, 0.5);
    double[] beta = uniform(seed + 3, params, 0, 1);
    for (boolean affine : new boolean[] {true, false}) {
      double[] g = affine ? gamma : null, b = affine ? beta : null;
      DoubleSupplier loss = () -> {
        double[] mean = sets.mean(x);
        double[] rstd = NormalizationSets.rstd(sets.variance(x, mean), EPS);
        return dot(r, sets.normalize(x, mean, rstd, g, b));
      };
      double[] mean = sets.mean(x);
      double[] rstd = NormalizationSets.rstd(sets.variance(x, mean), EPS);
      NormalizationSets.Gradients grads = sets.backward(x, r, mean, rstd, g, params, false);
      String w = what + (affine ? " affine" : " plain");
      check(w + " dx", x, loss, grads.dx);
      if (affine) {
        check(w + " dgamma", gamma, loss, grads.dgamma);
        check(w + " dbeta", beta, loss, grads.dbeta);
      }
    }
  }

  /** Central differences of {@code loss} in every entry of {@code p} (perturbed in place and restored). */
  private static void check(String what, double[] p, DoubleSupplier loss, double[] analytic) {
    for (int i = 0; i < p.length; i++) {
      double saved = p[i];
      p[i] = saved + H;
      double up = loss.getAsDouble();
      p[i] = saved - H;
      double down = loss.getAsDouble();
      p[i] = saved;
      double fd = (up - down) / (2 * H);
      double err = Math.abs(fd - analytic[i]) / (1 + Math.abs(analytic[i]));
      if (!(err <= TOLERANCE)) {
        fail(String.format("%s: entry %d analytic %.10g, finite difference %.10g (relative error %.3g > %.1g)",
            what, i, analytic[i], fd, err, TOLERANCE));
      }
    }
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  }

  private static double[] uniform(long seed, long n, double mean, double std) {
    SplittableRandom rnd = new SplittableRandom(seed);
    double[] a = new double[Math.toIntExact(n)];
    for (int i = 0; i < a.length; i++) a[i] = mean + std * (rnd.nextDouble() * 2 - 1) * Math.sqrt(3);
    return a;
  }
}
