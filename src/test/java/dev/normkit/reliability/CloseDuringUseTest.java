package dev.normkit.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.Backend;
import dev.normkit.BatchNorm;
import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.TestData;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Closing a tensor, or a layer, while another thread computes with it: the running call finishes on valid memory,
 * later calls throw {@link IllegalStateException}, the memory is freed once the last use ends, and the JVM does not
 * crash (before Tensor#retain, the native kernel would read memory that close() had already returned to the system).
 */
class CloseDuringUseTest {
  @Test
  void closeWhileRetainedDefersTheFreeToTheLastRelease() {
    long baseline = Tensor.liveNativeBytes();
    Tensor t = Tensor.zeros(Shape.of(4096));
    Tensor view = t.reshapeMemory(Shape.of(64, 64), Layout.CHANNELS_FIRST);
    long allocated = Tensor.liveNativeBytes();
    assertTrue(allocated > baseline);
    t.retain();
    view.retain();
    t.close();
    assertTrue(t.isClosed() && view.isClosed());
    assertThrows(IllegalStateException.class, t::retain);
    assertThrows(IllegalStateException.class, view::pointer);
    assertEquals(allocated, Tensor.liveNativeBytes(), "freed while two uses were still running");
    t.release();
    assertEquals(allocated, Tensor.liveNativeBytes(), "freed while one use was still running");
    view.release();
    assertEquals(baseline, Tensor.liveNativeBytes(), "not freed by the last release");
    t.close();
    assertEquals(baseline, Tensor.liveNativeBytes());
  }

  /** An unmatched release is an error, not a count gone negative (which would leak the block and refuse uses). */
  @Test
  void aReleaseWithoutRetainThrows() {
    long baseline = Tensor.liveNativeBytes();
    Tensor t = Tensor.zeros(Shape.of(256));
    assertThrows(IllegalStateException.class, t::release);
    t.retain();
    t.release();
    assertThrows(IllegalStateException.class, t::release);
    t.retain();
    t.close();
    t.release();
    assertEquals(baseline, Tensor.liveNativeBytes(), "the block leaked");
    assertThrows(IllegalStateException.class, t::release);
  }

  /**
   * JavaCPP code often moves a pointer's position ({@code p.position(i).get()}). A caller doing that with the pointer
   * a tensor gave out must not move what normkit's own calls see: they would read and write past the tensor.
   */
  @ParameterizedTest
  @EnumSource(Backend.class)
  void movingTheHandedOutPointerDoesNotMoveTheTensor(Backend backend) {
    Shape s = Shape.of(2, 8, 4, 4);
    float[] values = TestData.normal(11, (int) s.elementCount(), 1, 2);
    try (Tensor x = Tensor.of(values, s);
        Tensor y = Tensor.empty(s, Layout.CHANNELS_FIRST);
        Tensor expected = Tensor.empty(s, Layout.CHANNELS_FIRST)) {
      Functional.instanceNorm(backend, x, null, null, null, null, true, 0.1, 1e-5, expected, null, null);
      x.pointer().position(100);
      y.pointer().position(7).limit(9);
      assertEquals(values[100], x.pointer().position(100).get(), "position 100 of a fresh pointer");
      Functional.instanceNorm(backend, x, null, null, null, null, true, 0.1, 1e-5, y, null, null);
      assertArrayEquals(expected.toArray(), y.toArray());
      assertArrayEquals(values, x.toArray());
    }
  }

  /**
   * One thread runs layer norm over 64 MB (tens of milliseconds per call) again and again; another closes the input
   * during a call. The call in progress completes, the next one throws, and the memory is freed afterwards.
   */
  @ParameterizedTest
  @EnumSource(value = Backend.class, names = "NATIVE")
  void closingTheInputDuringAKernelCall(Backend backend) throws Exception {
    long baseline = Tensor.liveNativeBytes();
    Shape s = Shape.of(16, 64, 128, 128);
    Tensor x = Tensor.of(TestData.normal(7, (int) s.elementCount(), 0, 1), s);
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (Tensor y = Tensor.empty(s, Layout.CHANNELS_FIRST);
        Tensor mean = Tensor.zeros(Shape.of(16));
        Tensor rstd = Tensor.zeros(Shape.of(16))) {
      CountDownLatch started = new CountDownLatch(1);
      AtomicInteger completed = new AtomicInteger();
      Future<?> worker = pool.submit(() -> {
        started.countDown();
        for (int i = 0; i < 1000; i++) {
          Functional.layerNorm(backend, x, Shape.of(64, 128, 128), null, null, 1e-5, y, mean, rstd);
          completed.incrementAndGet();
        }
        return null;
      });
      started.await();
      Thread.sleep(30);
      x.close();
      Exception e = assertThrows(Exception.class, () -> worker.get(60, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof IllegalStateException, "expected IllegalStateException, got " + e.getCause());
      assertTrue(completed.get() < 1000);
    } finally {
      pool.shutdownNow();
    }
    assertEquals(baseline, Tensor.liveNativeBytes(), "the closed input was not freed after its last call ended");
  }

  /** Eight threads run an eval-mode layer while the main thread closes it: each ends with IllegalStateException. */
  @ParameterizedTest
  @EnumSource(Backend.class)
  void closingASharedEvalLayer(Backend backend) throws Exception {
    Shape s = Shape.of(8, 64, 32, 32);
    BatchNorm bn = BatchNorm.builder(64).backend(backend).build();
    bn.eval();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Tensor> tensors = new ArrayList<>();
    try {
      List<Future<?>> workers = new ArrayList<>();
      CountDownLatch started = new CountDownLatch(8);
      for (int t = 0; t < 8; t++) {
        Tensor x = Tensor.of(TestData.normal(t, (int) s.elementCount(), 0, 1), s, Layout.CHANNELS_LAST);
        Tensor y = Tensor.empty(s, Layout.CHANNELS_LAST);
        tensors.add(x);
        tensors.add(y);
        workers.add(pool.submit(() -> {
          started.countDown();
          for (;;) bn.forward(x, y);
        }));
      }
      started.await();
      Thread.sleep(50);
      bn.close();
      for (Future<?> w : workers) {
        Exception e = assertThrows(Exception.class, () -> w.get(60, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof IllegalStateException, "expected IllegalStateException, got " + e.getCause());
      }
    } finally {
      pool.shutdownNow();
      tensors.forEach(Tensor::close);
    }
  }
}
