package dev.normkit.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.normkit.Backend;
import dev.normkit.Conv2dSpec;
import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.TestData;
import dev.normkit.WsVariant;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded property fuzzing of every op: random ranks, dims (including 0 and 1), layouts, affine or not, and random
 * parameters, valid or not (eps &lt;= 0 or NaN, momentum outside [0, 1], groups not dividing C, wrong normalized
 * shapes, parameters of the wrong size, one value per channel). The property: every backend either throws
 * {@link IllegalArgumentException} with the same message as the reference, or succeeds and matches the reference's
 * outputs within 1e-4 of each tensor's scale (the cross-framework criterion); nothing else is thrown and the JVM
 * survives. The seed of a failing case is its test name.
 *
 * <p>A normalization's input gradient is a difference of terms of size rstd * |dy * gamma| that cancel (exactly, for
 * sets of two values), so dx also gets an absolute allowance of 1e-5 of that term size, the float32 rounding of the
 * terms with a wide margin, rather than a bound relative to dx's own, possibly tiny, scale.
 */
class FuzzTest {
  private static final int CASES = 400;
  private static final double TOLERANCE = 1e-4;

  static Stream<Long> seeds() {
    return IntStream.range(0, CASES).mapToObj(i -> 0x5eedL * 1000 + i);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void everyBackendMatchesTheReferenceOrRejectsLikeIt(long seed) {
    Outcome expected = run(seed, Backend.JAVA);
    for (Backend b : Backend.values()) {
      if (b == Backend.JAVA) continue;
      Outcome actual = run(seed, b);
      String what = "seed " + seed + " " + b + " " + expected.description;
      if (expected.error != null || actual.error != null) {
        assertEquals(expected.error, actual.error, what + ": rejection");
        continue;
      }
      for (int i = 0; i < expected.outputs.size(); i++) {
        float[] e = expected.outputs.get(i), a = actual.outputs.get(i);
        double scale = 0;
        for (float v : e) if (Float.isFinite(v)) scale = Math.max(scale, Math.abs(v));
        double atol = TOLERANCE * Math.max(scale, 1e-30) + (i == expected.gradientIndex ? expected.termScale * 1e-5 : 0);
        for (int j = 0; j < e.length; j++) {
          boolean bothNaN = Float.isNaN(e[j]) && Float.isNaN(a[j]);
          if (!bothNaN && !(Math.abs(a[j] - e[j]) <= atol)) {
            fail(what + ": output " + i + "[" + j + "] = " + a[j] + ", reference " + e[j] + " (atol " + atol + ")");
          }
        }
      }
    }
  }

  /** The outputs of one fuzz case on one backend, or the message of its IllegalArgumentException. */
  private record Outcome(String description, List<float[]> outputs, String error, int gradientIndex, double termScale) {
    Outcome(String description, String error) {
      this(description, List.of(), error, -1, 0);
    }
  }

  /** max over sets of rstd = 1 / sqrt(var + eps), times max |dy| and max |gamma| (1 without gamma). */
  private static double termScale(Tensor var, double eps, Tensor dy, Tensor gamma) {
    double rstd = 0;
    for (float v : var.toArray()) rstd = Math.max(rstd, 1 / Math.sqrt(v + eps));
    return rstd * maxAbs(dy) * (gamma == null ? 1 : maxAbs(gamma));
  }

  private static double maxAbs(Tensor t) {
    double m = 0;
    for (float v : t.toArray()) m = Math.max(m, Math.abs(v));
    return m;
  }

  private static Outcome run(long seed, Backend backend) {
    SplittableRandom r = new SplittableRandom(seed);
    int op = r.nextInt(6);
    int rank = 2 + r.nextInt(4);
    long[] dims = new long[rank];
    int[] choices = {0, 1, 2, 3, 4, 5, 7, 16, 17};
    for (int i = 0; i < rank; i++) dims[i] = r.nextInt(20) == 0 ? 0 : choices[1 + r.nextInt(choices.length - 1)];
    if (op == 5 && rank != 4) op = 0; // conv2d is 2-D only
    Shape s = Shape.of(dims);
    Layout layout = r.nextBoolean() ? Layout.CHANNELS_FIRST : Layout.CHANNELS_LAST;
    boolean affine = r.nextBoolean();
    double eps = pick(r, 1e-5, 1e-3, 0.0, -1e-5, Double.NaN);
    double momentum = pick(r, 0.1, 0.0, 1.0, 1.5);
    boolean training = r.nextInt(3) > 0;
    long c = s.channels();
    long paramLen = r.nextInt(12) == 0 ? c + 1 : c;
    String description = "op " + op + " " + s + " " + layout + " affine " + affine + " eps " + eps + " momentum "
        + momentum + " training " + training;
    List<Tensor> tensors = new ArrayList<>();
    try {
      Tensor x = own(tensors, Tensor.of(TestData.normal(seed, (int) s.elementCount(), 0.5, 2), s, layout));
      Tensor dy = own(tensors, Tensor.of(TestData.normal(seed + 1, (int) s.elementCount(), 0, 1), s, layout));
      Tensor y = own(tensors, Tensor.zeros(s, layout));
      Tensor dx = own(tensors, Tensor.zeros(s, layout));
      Shape p = Shape.of(paramLen);
      Tensor g = affine ? own(tensors, Tensor.of(TestData.uniform(seed + 2, (int) paramLen, 0.5, 1.5), p)) : null;
      Tensor b = affine ? own(tensors, Tensor.of(TestData.normal(seed + 3, (int) paramLen, 0, 0.5), p)) : null;
      Tensor dg = affine ? own(tensors, Tensor.zeros(p)) : null;
      Tensor db = affine ? own(tensors, Tensor.zeros(p)) : null;
      List<float[]> out = new ArrayList<>();
      double terms = 0;
      switch (op) {
        case 0: { // batch norm, with running statistics
          Tensor rm = own(tensors, Tensor.zeros(p)), rv = own(tensors, Tensor.zeros(p));
          rv.fill(1);
          Tensor m = own(tensors, Tensor.zeros(p)), v = own(tensors, Tensor.zeros(p));
          Functional.batchNorm(backend, x, rm, rv, g, b, training, momentum, eps, y, m, v);
          Functional.batchNormBackward(backend, x, dy, g, training ? m : rm, training ? v : rv, training, eps, dx, dg, db);
          terms = termScale(training ? v : rv, eps, dy, g);
          out.add(rm.toArray());
          out.add(rv.toArray());
          break;
        }
        case 1: { // group norm
          int groups = 1 + r.nextInt((int) Math.max(1, c) + 1);
          description += " groups " + groups;
          Shape st = Shape.of(s.batch(), groups);
          Tensor m = own(tensors, Tensor.zeros(st)), v = own(tensors, Tensor.zeros(st));
          Functional.groupNorm(backend, x, groups, g, b, eps, y, m, v);
          Functional.groupNormBackward(backend, x, dy, groups, g, m, v, eps, dx, dg, db);
          terms = termScale(v, eps, dy, g);
          break;
        }
        case 2: { // layer norm over k trailing dims (sometimes a wrong normalized shape)
          int k = 1 + r.nextInt(rank);
          Shape normalized = r.nextInt(10) == 0 ? Shape.of(s.dim(rank - 1) + 1) : s.trailing(k);
          description += " normalized " + normalized;
          Shape pn = normalized;
          Tensor lg = affine ? own(tensors, Tensor.of(TestData.uniform(seed + 4, (int) pn.elementCount(), 0.5, 1.5), pn)) : null;
          Tensor lb = affine ? own(tensors, Tensor.zeros(pn)) : null;
          Tensor ldg = affine ? own(tensors, Tensor.zeros(pn)) : null;
          Tensor ldb = affine ? own(tensors, Tensor.zeros(pn)) : null;
          Shape st = s.endsWith(pn) ? Functional.layerNormStatisticsShape(s, pn) : Shape.of(1);
          Tensor m = own(tensors, Tensor.zeros(st)), v = own(tensors, Tensor.zeros(st));
          Functional.layerNorm(backend, x, pn, lg, lb, eps, y, m, v);
          Functional.layerNormBackward(backend, x, dy, pn, lg, m, v, eps, dx, ldg, ldb);
          terms = termScale(v, eps, dy, lg);
          if (affine) {
            out.add(ldg.toArray());
            out.add(ldb.toArray());
          }
          break;
        }
        case 3: { // instance norm with running statistics
          Tensor rm = own(tensors, Tensor.zeros(p)), rv = own(tensors, Tensor.zeros(p));
          rv.fill(1);
          Shape st = Shape.of(s.batch(), c);
          Tensor m = own(tensors, Tensor.zeros(training ? st : p)), v = own(tensors, Tensor.zeros(training ? st : p));
          Functional.instanceNorm(backend, x, rm, rv, g, b, training, momentum, eps, y, training ? m : null,
              training ? v : null);
          Functional.instanceNormBackward(backend, x, dy, g, training ? m : rm, training ? v : rv, training, eps, dx,
              dg, db);
          terms = termScale(training ? v : rv, eps, dy, g);
          out.add(rm.toArray());
          out.add(rv.toArray());
          break;
        }
        case 4: { // weight standardization of x viewed as a weight (O, ...)
          WsVariant variant = WsVariant.values()[r.nextInt(3)];
          description += " " + variant;
          Shape po = Shape.of(s.dim(0));
          Tensor gain = variant == WsVariant.SCALED && affine
              ? own(tensors, Tensor.of(TestData.uniform(seed + 5, (int) s.dim(0), 0.5, 1.5), po)) : null;
          Tensor dgain = gain != null ? own(tensors, Tensor.zeros(po)) : null;
          Tensor m = own(tensors, Tensor.zeros(po)), v = own(tensors, Tensor.zeros(po));
          Functional.weightStandardize(backend, x, variant, eps, 1.3, gain, y, m, v);
          Functional.weightStandardizeBackward(backend, x, dy, variant, eps, 1.3, gain, m, v, dx, dgain);
          if (dgain != null) out.add(dgain.toArray());
          break;
        }
        default: { // conv2d
          int k = 1 + r.nextInt(3), stride = 1 + r.nextInt(2), pad = r.nextInt(2), groups = 1 + r.nextInt(2);
          Conv2dSpec spec = Conv2dSpec.of(stride, pad, 1, groups);
          description += " " + spec + " kernel " + k;
          Shape ws = Shape.of(2 * groups, Math.max(1, c / groups), k, k);
          Tensor w = own(tensors, Tensor.of(TestData.normal(seed + 6, (int) ws.elementCount(), 0, 0.3), ws));
          Shape ys = spec.outputShape(s, ws);
          Tensor cy = own(tensors, Tensor.zeros(ys, layout));
          Tensor cdy = own(tensors, Tensor.of(TestData.normal(seed + 7, (int) ys.elementCount(), 0, 1), ys, layout));
          Tensor dw = own(tensors, Tensor.zeros(ws));
          Functional.conv2d(backend, x, w, null, spec, cy);
          Functional.conv2dBackward(backend, x, w, cdy, spec, dx, dw, null);
          out.add(cy.toArray());
          out.add(dw.toArray());
          out.add(dx.toArray());
          return new Outcome(description, out, null, -1, 0);
        }
      }
      out.add(y.toArray());
      int gradientIndex = out.size();
      out.add(dx.toArray());
      if (dg != null) {
        out.add(dg.toArray());
        out.add(db.toArray());
      }
      return new Outcome(description, out, null, gradientIndex, terms);
    } catch (IllegalArgumentException e) {
      return new Outcome(description, e.getMessage());
    } finally {
      tensors.forEach(Tensor::close);
    }
  }

  private static Tensor own(List<Tensor> tensors, Tensor t) {
    tensors.add(t);
    return t;
  }

  private static double pick(SplittableRandom r, double... values) {
    return r.nextInt(4) == 0 ? values[r.nextInt(values.length)] : values[0];
  }
}
