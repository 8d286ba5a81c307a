package dev.normkit.reliability;

import dev.normkit.Backend;
import dev.normkit.BatchNorm;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.StdConv2d;
import dev.normkit.Tensor;

/**
 * A batch norm and a StdConv2d after it, on a fixed input: run by {@link SmallThreadStackTest} in a JVM of its own
 * with a small {@code -Xss} (normkit's first call, which loads the native libraries, then happens on a small stack)
 * and in the test's JVM on the Java reference. {@code main} prints the sums of |y| and |z|.
 */
public final class SmallStackMain {
  private SmallStackMain() {}

  public static void main(String[] args) {
    double[] sums = run(Backend.NATIVE);
    System.out.println("ok " + sums[0] + " " + sums[1]);
  }

  /** The sums of |batch norm(x)| and |StdConv2d(batch norm(x))| on {@code backend}. */
  static double[] run(Backend backend) {
    Shape s = Shape.of(2, 16, 8, 8);
    float[] values = new float[(int) s.elementCount()];
    for (int i = 0; i < values.length; i++) values[i] = (i % 7) * 0.25f + (i % 16) * 0.125f;
    try (Tensor x = Tensor.of(values, s, Layout.CHANNELS_LAST);
        BatchNorm bn = BatchNorm.builder(16).backend(backend).build();
        StdConv2d conv = StdConv2d.builder(16, 8, 3).padding(1).seed(5).backend(backend).build();
        Tensor y = bn.forward(x);
        Tensor z = conv.forward(y)) {
      return new double[] {absSum(y), absSum(z)};
    }
  }

  private static double absSum(Tensor t) {
    double total = 0;
    for (float v : t.toArray()) total += Math.abs(v);
    return total;
  }
}
