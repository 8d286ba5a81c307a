package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Special values against PyTorch (src/test/resources/special, from tools/golden/generate_special.py): every golden
 * case with a NaN or an infinity in x, with x scaled by 1e30 and by 1e-30, and with an empty batch, on every backend
 * and layout. Each case holds PyTorch's float64 result (the truth, T) and its float32 result (P, what a PyTorch user
 * sees, overflow included); ours is A.
 *
 * <ul>
 *   <li>nan, inf: A is non-finite exactly where P is (a poisoned value propagates through its set's statistics, as
 *       in PyTorch), and A is close to T wherever P is finite.
 *   <li>huge, tiny: A is finite wherever P is ("statistics finite where PyTorch's are"), and close to T wherever P
 *       is (where float32 PyTorch gets the right answer, so do we). We may be right where P is not: our kernels
 *       accumulate statistics in double where PyTorch's float32 sums of squares overflow.
 *   <li>empty (N = 0): the outputs have PyTorch's shapes, parameter gradients are zero, running statistics are
 *       unchanged: A equals T exactly.
 * </ul>
 * "Close" is |a - t| &lt;= 1e-4 * max|t| per tensor (the cross-framework criterion, max over finite t).
 */
class SpecialValuesTest {
  private static final double TOLERANCE = 1e-4;

  static Stream<Arguments> cases() {
    List<Arguments> args = new ArrayList<>();
    for (GoldenCase c : GoldenCase.all("/special/")) {
      for (Backend b : Backend.values()) {
        for (Layout l : Layout.values()) args.add(Arguments.of(c, b, l));
      }
    }
    return args.stream();
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void behavesAsPyTorch(GoldenCase c, Backend backend, Layout layout) {
    String mode = c.param("mode");
    Map<String, float[]> actual = GoldenVectorTest.run(c, backend, layout);
    for (Map.Entry<String, float[]> e : actual.entrySet()) {
      String name = e.getKey();
      String what = c + " " + backend + " " + layout + " " + name;
      float[] a = e.getValue();
      float[] t = c.outputs.get(name).data();
      float[] p = c.outputs.get("f32_" + name).data();
      assertEquals(t.length, a.length, what + ": length");
      double atol = TOLERANCE * Math.max(finiteMax(t), Float.MIN_NORMAL);
      for (int i = 0; i < a.length; i++) {
        boolean pFinite = Float.isFinite(p[i]);
        switch (mode) {
          case "nan":
          case "inf":
            if (pFinite != Float.isFinite(a[i])) fail(what + "[" + i + "] = " + a[i] + ", PyTorch " + p[i]);
            if (pFinite && !(Math.abs(a[i] - t[i]) <= atol)) fail(what + "[" + i + "] = " + a[i] + ", truth " + t[i]);
            break;
          case "huge":
          case "tiny":
            if (pFinite && !Float.isFinite(a[i])) fail(what + "[" + i + "] = " + a[i] + ", PyTorch " + p[i]);
            if (Math.abs(p[i] - t[i]) <= atol && !(Math.abs(a[i] - t[i]) <= atol)) {
              fail(what + "[" + i + "] = " + a[i] + ", truth " + t[i] + " (PyTorch float32 " + p[i] + ")");
            }
            break;
          default:
            assertEquals(t[i], a[i], what + "[" + i + "]");
        }
      }
    }
  }

  private static double finiteMax(float[] values) {
    double max = 0;
    for (float v : values) if (Float.isFinite(v)) max = Math.max(max, Math.abs(v));
    return max;
  }
}
