package dev.normkit.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.Backend;
import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Normkit;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.TestData;
import dev.normkit.bench.Soak;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Bitwise determinism per thread count, and native memory: reclaimed when forgotten, flat under a long loop. */
class DeterminismAndLifetimeTest {
  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void sameInputAndThreadCountGiveBitwiseTheSameOutput(int threads) {
    int before = Normkit.numThreads();
    Normkit.setNumThreads(threads);
    try {
      Shape s = Shape.of(8, 64, 20, 20);
      for (Layout l : Layout.values()) {
        try (Tensor x = Tensor.of(TestData.normal(9, (int) s.elementCount(), 3, 2), s, l);
            Tensor dy = Tensor.of(TestData.normal(10, (int) s.elementCount(), 0, 1), s, l)) {
          float[][] first = everyOp(x, dy);
          for (int r = 0; r < 3; r++) {
            float[][] again = everyOp(x, dy);
            for (int i = 0; i < first.length; i++) assertArrayEquals(first[i], again[i], "output " + i + " " + l);
          }
        }
      }
    } finally {
      Normkit.setNumThreads(before);
    }
  }

  /** y and dx of batch, group, layer and instance norm on the native backend. */
  private static float[][] everyOp(Tensor x, Tensor dy) {
    Shape s = x.shape();
    Shape c = Shape.of(s.channels());
    try (Tensor y = Tensor.zeros(s, x.layout()); Tensor dx = Tensor.zeros(s, x.layout());
        Tensor g = Tensor.zeros(c); Tensor b = Tensor.zeros(c); Tensor dg = Tensor.zeros(c); Tensor db = Tensor.zeros(c);
        Tensor m = Tensor.zeros(c); Tensor v = Tensor.zeros(c);
        Tensor gm = Tensor.zeros(Shape.of(s.batch(), 8)); Tensor gv = Tensor.zeros(Shape.of(s.batch(), 8));
        Tensor im = Tensor.zeros(Shape.of(s.batch(), s.channels()));
        Tensor iv = Tensor.zeros(Shape.of(s.batch(), s.channels()));
        Tensor lm = Tensor.zeros(Shape.of(s.batch())); Tensor lv = Tensor.zeros(Shape.of(s.batch()));
        Tensor lg = Tensor.zeros(s.trailing(3)); Tensor lb = Tensor.zeros(s.trailing(3));
        Tensor ldg = Tensor.zeros(s.trailing(3)); Tensor ldb = Tensor.zeros(s.trailing(3))) {
      g.fill(1.25f);
      lg.fill(0.75f);
      Backend n = Backend.NATIVE;
      float[][] out = new float[8][];
      Functional.batchNorm(n, x, null, null, g, b, true, 0.1, 1e-5, y, m, v);
      out[0] = y.toArray();
      Functional.batchNormBackward(n, x, dy, g, m, v, true, 1e-5, dx, dg, db);
      out[1] = concat(dx.toArray(), dg.toArray(), db.toArray());
      Functional.groupNorm(n, x, 8, g, b, 1e-5, y, gm, gv);
      out[2] = y.toArray();
      Functional.groupNormBackward(n, x, dy, 8, g, gm, gv, 1e-5, dx, dg, db);
      out[3] = concat(dx.toArray(), dg.toArray(), db.toArray());
      Functional.layerNorm(n, x, s.trailing(3), lg, lb, 1e-5, y, lm, lv);
      out[4] = y.toArray();
      Functional.layerNormBackward(n, x, dy, s.trailing(3), lg, lm, lv, 1e-5, dx, ldg, ldb);
      out[5] = concat(dx.toArray(), ldg.toArray(), ldb.toArray());
      Functional.instanceNorm(n, x, null, null, g, b, true, 0.1, 1e-5, y, im, iv);
      out[6] = y.toArray();
      Functional.instanceNormBackward(n, x, dy, g, im, iv, true, 1e-5, dx, dg, db);
      out[7] = concat(dx.toArray(), dg.toArray(), db.toArray());
      return out;
    }
  }

  private static float[] concat(float[]... parts) {
    int n = 0;
    for (float[] p : parts) n += p.length;
    float[] all = new float[n];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, all, at, p.length);
      at += p.length;
    }
    return all;
  }

  @Test
  void forgottenTensorsAreReclaimedByTheCleaner() throws InterruptedException {
    long baseline = Tensor.liveNativeBytes();
    for (int i = 0; i < 64; i++) Tensor.zeros(Shape.of(1 << 18)); // 1 MiB each, never closed
    assertTrue(Tensor.liveNativeBytes() >= baseline + (64L << 20), "the tensors were allocated");
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (Tensor.liveNativeBytes() > baseline + (8L << 20) && System.nanoTime() < deadline) {
      System.gc();
      Thread.sleep(50);
    }
    assertTrue(Tensor.liveNativeBytes() <= baseline + (8L << 20),
        "forgotten tensors still hold " + (Tensor.liveNativeBytes() - baseline) + " bytes");
  }

  /**
   * The pointer a native call receives keeps the tensor that owns the memory reachable. A JNI argument is a garbage
   * collection root for the length of the call, but the tensor itself is not: once the JIT sees no later use of it
   * (as in {@code Functional.layerNorm(Tensor.of(...), ...)} or {@code op(x).toArray()}), the Cleaner could free the
   * memory while native code still reads it.
   */
  @Test
  void aPointerKeepsItsTensorsMemoryAllocated() throws InterruptedException {
    WeakReference<Tensor> owner = new WeakReference<>(Tensor.zeros(Shape.of(1 << 16)));
    FloatPointer pointer = owner.get().pointer();
    collectGarbage(() -> owner.get() == null);
    assertNotNull(owner.get(), "the tensor was collected while its pointer was still in use");
    Reference.reachabilityFence(pointer);
    pointer = null;
    collectGarbage(() -> owner.get() == null);
    assertNull(owner.get(), "the tensor was never collected once its pointer was dropped (the check saw no GC)");
  }

  /** The same for memory the tensor wraps: its pointer keeps the caller's direct buffer reachable. */
  @Test
  void aWrappedTensorsPointerKeepsTheBufferReachable() throws InterruptedException {
    WeakReference<FloatBuffer> buffer = new WeakReference<>(
        ByteBuffer.allocateDirect(4 << 16).order(ByteOrder.nativeOrder()).asFloatBuffer());
    FloatPointer pointer = Tensor.wrap(buffer.get(), Shape.of(1 << 16), Layout.CHANNELS_FIRST).pointer();
    collectGarbage(() -> buffer.get() == null);
    assertNotNull(buffer.get(), "the wrapped buffer was collected while the tensor's pointer was still in use");
    Reference.reachabilityFence(pointer);
  }

  /** Runs the collector until {@code done} holds or two seconds have passed. */
  private static void collectGarbage(BooleanSupplier done) throws InterruptedException {
    long deadline = System.nanoTime() + 2_000_000_000L;
    do {
      System.gc();
      Thread.sleep(20);
    } while (!done.getAsBoolean() && System.nanoTime() < deadline);
  }

  @Test
  void closeFreesDeterministicallyAndOnce() {
    long baseline = Tensor.liveNativeBytes();
    Tensor t = Tensor.zeros(Shape.of(1000));
    assertTrue(Tensor.liveNativeBytes() > baseline);
    t.close();
    t.close();
    assertEquals(baseline, Tensor.liveNativeBytes());
  }

  /**
   * A shortened soak (the full million calls is {@code normkit bench --soak 1000000}): every op and pass, the
   * zero-allocation path and the allocating short forms; tensor memory returns exactly to its level after warm-up
   * and RSS stays within the soak's slack.
   */
  @Test
  void longLoopOverEveryOpKeepsMemoryFlat() {
    ByteArrayOutputStream report = new ByteArrayOutputStream();
    boolean flat = Soak.run(40_000, 1, new PrintStream(report, true, StandardCharsets.UTF_8));
    assertTrue(flat, report.toString(StandardCharsets.UTF_8));
  }
}
