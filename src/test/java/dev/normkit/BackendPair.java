package dev.normkit;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.bytedeco.javacpp.FloatPointer;

/**
 * One output written by every {@link Backend}: each native backend's ({@link Backend#NATIVE}, {@link Backend#ONEDNN})
 * is compared with the reference's ({@link Backend#JAVA}) per CONVENTIONS.md. All tensors start as NaN so that an
 * element a backend fails to write cannot pass. Each native output sits inside a larger buffer between two guard
 * zones filled with a sentinel: every comparison also asserts that the native code wrote nothing outside its output.
 *
 * <p>Every comparison records its error relative to the expected tensor's scale (max|a - e| / max|e|) under a
 * category; run with {@code -Dnormkit.printErrors=true} to print the worst per category, the figures the tests'
 * bounds are set from.
 */
final class BackendPair implements AutoCloseable {
  private static final Map<String, Double> WORST = new TreeMap<>();
  private static final Map<String, String> WORST_CASE = new TreeMap<>();

  /** Guard zones before (64 floats: keeps the output 64-byte aligned) and after the native output. */
  private static final int FRONT_GUARD = 64;
  private static final int BACK_GUARD = 256;
  private static final float SENTINEL = -7.77e7f;

  private final Map<Backend, Guarded> nativeOut = new EnumMap<>(Backend.class);
  private final Tensor javaOut;

  /** A native backend's output between two guard zones. */
  private record Guarded(Tensor buffer, Tensor out) {
    static Guarded of(Shape shape, Layout layout) {
      long n = shape.elementCount();
      Tensor buffer = Tensor.empty(Shape.of(FRONT_GUARD + n + BACK_GUARD), Layout.CHANNELS_FIRST);
      buffer.fill(SENTINEL);
      Tensor out = Tensor.wrap(new FloatPointer(buffer.pointer()).position(FRONT_GUARD), shape, layout);
      out.fill(Float.NaN);
      return new Guarded(buffer, out);
    }

    /** Fails if anything was written to the guard zones around the output. */
    void assertGuardsIntact(String what) {
      float[] all = buffer.toArray();
      int end = all.length - BACK_GUARD;
      for (int i = 0; i < all.length; i++) {
        if (i == FRONT_GUARD) i = end;
        if (all[i] != SENTINEL) {
          fail(what + ": native code wrote " + all[i] + " outside its output, at offset " + (i - FRONT_GUARD));
        }
      }
    }

    void close() {
      out.close();
      buffer.close();
    }
  }

  private BackendPair(Shape shape, Layout layout, Set<Backend> natives) {
    for (Backend b : natives) {
      if (b != Backend.JAVA) nativeOut.put(b, Guarded.of(shape, layout));
    }
    javaOut = Tensor.empty(shape, layout);
    javaOut.fill(Float.NaN);
  }

  private BackendPair(Shape shape, Layout layout) {
    this(shape, layout, EnumSet.allOf(Backend.class));
  }

  /** A pair of {@link Backend#NATIVE} and the reference only (for sweeps over normkit's kernel configurations). */
  static BackendPair nativeOnly(Shape shape, Layout layout) {
    return new BackendPair(shape, layout, EnumSet.of(Backend.NATIVE));
  }

  /** A parameter- or statistics-shaped {@link #nativeOnly} pair, or null when not wanted. */
  static BackendPair nativeOnly(boolean wanted, Shape shape) {
    return wanted ? nativeOnly(shape, Layout.CHANNELS_FIRST) : null;
  }

  /** Refills the native outputs with NaN (their guard zones stay), before a native backend writes them again. */
  void resetNative() {
    for (Guarded g : nativeOut.values()) g.out().fill(Float.NaN);
  }

  /** As {@link #resetNative} for an optional pair. */
  static void resetNative(BackendPair pair) {
    if (pair != null) pair.resetNative();
  }

  /** The native backend's output, in logical order (null for a null pair). */
  static float[] nativeValues(BackendPair pair) {
    return pair == null ? null : pair.get(Backend.NATIVE).toArray();
  }

  static BackendPair of(Shape shape, Layout layout) {
    return new BackendPair(shape, layout);
  }

  /** A parameter- or statistics-shaped pair (contiguous). */
  static BackendPair of(Shape shape) {
    return new BackendPair(shape, Layout.CHANNELS_FIRST);
  }

  /** A pair, or null when the output is not wanted. */
  static BackendPair optional(boolean wanted, Shape shape) {
    return wanted ? of(shape) : null;
  }

  Tensor get(Backend backend) {
    return backend == Backend.JAVA ? javaOut : nativeOut.get(backend).out();
  }

  /** The backend's tensor of an optional pair, or null. */
  static Tensor get(BackendPair pair, Backend backend) {
    return pair == null ? null : pair.get(backend);
  }

  /**
   * Asserts |native - java| &lt;= scaledAtol * max|java| elementwise for each native backend and records the error
   * under {@code category} and the backend's name.
   * {@code detail} names the case (shape, layout, seed) in a failure message.
   */
  void assertClose(String category, String detail, double scaledAtol) {
    float[] expected = javaOut.toArray();
    for (Map.Entry<Backend, Guarded> e : nativeOut.entrySet()) {
      String which = category + " " + e.getKey().cliName();
      e.getValue().assertGuardsIntact(which + " " + detail);
      float[] actual = e.getValue().out().toArray();
      record(which, detail, Close.relativeError(actual, expected));
      Close.assertClose(which + " " + detail, actual, expected, scaledAtol, 0);
    }
  }

  /**
   * Asserts |native - java| &lt;= k * u * magnitude[i] for every element i, with u = 2^-24 ({@link NormBounds}), and
   * records the measured k, max |native - java| / (u * magnitude), under {@code category} and the backend's name, for
   * each native backend.
   */
  void assertWithin(String category, String detail, double[] magnitude, double k) {
    float[] expected = javaOut.toArray();
    for (Map.Entry<Backend, Guarded> e : nativeOut.entrySet()) {
      String which = category + " " + e.getKey().cliName();
      e.getValue().assertGuardsIntact(which + " " + detail);
      assertWithin(which, detail, e.getValue().out().toArray(), expected, magnitude, k);
    }
  }

  private static void assertWithin(
      String category, String detail, float[] actual, float[] expected, double[] magnitude, double k) {
    if (actual.length != magnitude.length) {
      throw new IllegalArgumentException(category + ": " + actual.length + " values, " + magnitude.length + " bounds");
    }
    double measured = 0;
    int worst = -1;
    for (int i = 0; i < actual.length; i++) {
      double err = Math.abs((double) actual[i] - expected[i]);
      double ratio = err == 0 ? 0 : Double.isNaN(err) ? Double.POSITIVE_INFINITY : err / (NormBounds.U * magnitude[i]);
      if (worst < 0 || ratio > measured) {
        measured = ratio;
        worst = i;
      }
    }
    record(category, detail, measured);
    if (!(measured <= k)) {
      fail(String.format(
          "%s %s: element %d is %s, expected %s: error %.3g u * magnitude %.3g, bound %s u * magnitude",
          category, detail, worst, actual[worst], expected[worst], measured, magnitude[worst], k));
    }
  }

  /** As {@link #assertWithin} for an optional pair; nothing when null. */
  static void assertWithin(BackendPair pair, String category, String detail, double[] magnitude, double k) {
    if (pair != null) pair.assertWithin(category, detail, magnitude, k);
  }

  /** As {@link #assertClose} for an optional pair; nothing when null. */
  static void assertClose(BackendPair pair, String category, String detail, double scaledAtol) {
    if (pair != null) pair.assertClose(category, detail, scaledAtol);
  }

  static synchronized void record(String category, String detail, double error) {
    if (!(WORST.getOrDefault(category, -1.0) >= error)) {
      WORST.put(category, error);
      WORST_CASE.put(category, detail);
    }
  }

  /** Prints the worst recorded error per category when {@code normkit.printErrors} is set. */
  static synchronized void printWorst(String prefix) {
    if (!Boolean.getBoolean("normkit.printErrors")) return;
    WORST.forEach((k, v) -> {
      if (k.startsWith(prefix)) System.out.printf("worst error %-30s %.3g  (%s)%n", k, v, WORST_CASE.get(k));
    });
  }

  @Override
  public void close() {
    for (Guarded g : nativeOut.values()) g.close();
    javaOut.close();
  }
}
