package dev.normkit;

import java.util.SplittableRandom;

/** Seeded test inputs. Every random test records its seed in its display name or message. */
public final class TestData {
  private TestData() {}

  /** Uniform values in [lo, hi). */
  public static float[] uniform(long seed, int n, double lo, double hi) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
    return a;
  }

  /** Normal values with the given mean and standard deviation. */
  public static float[] normal(long seed, int n, double mean, double std) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      double u1 = r.nextDouble(), u2 = r.nextDouble();
      double z = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
      a[i] = (float) (mean + std * z);
    }
    return a;
  }

  /**
   * Values of the form 0.25 * k for small integers k (benchdnn's trick): sums, means and squared deviations of a few
   * thousand of them are exact in float32, so the expected statistics are exact too.
   */
  public static float[] exact(long seed, int n) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = 0.25f * (r.nextInt(17) - 8);
    return a;
  }

  public static Tensor tensor(float[] logical, Shape shape, Layout layout) {
    return Tensor.of(logical, shape, layout);
  }
}
