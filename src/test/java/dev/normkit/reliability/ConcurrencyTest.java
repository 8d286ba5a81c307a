package dev.normkit.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.normkit.Backend;
import dev.normkit.BatchNorm;
import dev.normkit.Conv2dSpec;
import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.TestData;
import dev.normkit.WsVariant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Many threads at once: results must be bitwise equal to sequential calls. Exercises the primitive cache (concurrent
 * creation and lookup), the pooled oneDNN bindings (one stream, memory objects and scratchpad per concurrent call)
 * and our kernels from several Java threads, each with its own OpenMP team.
 */
class ConcurrencyTest {
  private static final int THREADS = 8;
  private static final int ROUNDS = 6;

  @ParameterizedTest
  @EnumSource(Backend.class)
  void oneEvalLayerFromEightThreadsEqualsSequentialCalls(Backend backend) throws Exception {
    Shape s = Shape.of(4, 16, 6, 6);
    try (BatchNorm bn = BatchNorm.builder(16).backend(backend).build()) {
      bn.runningMean().copyFrom(TestData.normal(1, 16, 0, 1));
      bn.runningVar().copyFrom(TestData.uniform(2, 16, 0.5, 2));
      bn.weight().copyFrom(TestData.uniform(3, 16, 0.5, 1.5));
      bn.eval();
      List<Tensor> inputs = new ArrayList<>();
      List<float[]> sequential = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        Layout l = t % 2 == 0 ? Layout.CHANNELS_FIRST : Layout.CHANNELS_LAST;
        inputs.add(Tensor.of(TestData.normal(100 + t, (int) s.elementCount(), 0, 2), s, l));
        try (Tensor y = bn.forward(inputs.get(t))) {
          sequential.add(y.toArray());
        }
      }
      List<float[]> concurrent = inParallel(t -> {
        float[] last = null;
        for (int r = 0; r < ROUNDS; r++) {
          try (Tensor y = bn.forward(inputs.get(t))) {
            float[] now = y.toArray();
            if (last != null) assertArrayEquals(last, now, "thread " + t + " round " + r);
            last = now;
          }
        }
        return last;
      });
      for (int t = 0; t < THREADS; t++) assertArrayEquals(sequential.get(t), concurrent.get(t), "thread " + t);
      inputs.forEach(Tensor::close);
    }
  }

  /** Every op, each thread its own shape (so the cache sees concurrent misses), against the same op run alone. */
  @ParameterizedTest
  @EnumSource(Backend.class)
  void everyOpFromEightThreadsEqualsSequentialCalls(Backend backend) throws Exception {
    List<Function<Integer, float[]>> ops = List.of(
        t -> batchNorm(backend, t), t -> groupNorm(backend, t), t -> layerNorm(backend, t),
        t -> instanceNorm(backend, t), t -> weightStd(backend, t), t -> conv(backend, t));
    for (Function<Integer, float[]> op : ops) {
      List<float[]> sequential = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) sequential.add(op.apply(t));
      List<float[]> concurrent = inParallel(t -> {
        float[] r = null;
        for (int i = 0; i < ROUNDS; i++) r = op.apply(t);
        return r;
      });
      for (int t = 0; t < THREADS; t++) assertArrayEquals(sequential.get(t), concurrent.get(t), "thread " + t);
    }
  }

  private static Shape shapeFor(int t) {
    return Shape.of(2 + t % 3, 8, 3 + t, 4);
  }

  private static Layout layoutFor(int t) {
    return t % 2 == 0 ? Layout.CHANNELS_FIRST : Layout.CHANNELS_LAST;
  }

  private static float[] batchNorm(Backend b, int t) {
    Shape s = shapeFor(t);
    try (Tensor x = Tensor.of(TestData.normal(t, (int) s.elementCount(), 1, 2), s, layoutFor(t));
        Tensor y = Tensor.zeros(s, layoutFor(t))) {
      Functional.batchNorm(b, x, null, null, null, null, true, 0.1, 1e-5, y, null, null);
      return y.toArray();
    }
  }

  private static float[] groupNorm(Backend b, int t) {
    Shape s = shapeFor(t);
    try (Tensor x = Tensor.of(TestData.normal(t, (int) s.elementCount(), 1, 2), s, layoutFor(t));
        Tensor y = Tensor.zeros(s, layoutFor(t))) {
      Functional.groupNorm(b, x, 4, null, null, 1e-5, y, null, null);
      return y.toArray();
    }
  }

  private static float[] layerNorm(Backend b, int t) {
    Shape s = shapeFor(t);
    try (Tensor x = Tensor.of(TestData.normal(t, (int) s.elementCount(), 1, 2), s, layoutFor(t));
        Tensor y = Tensor.zeros(s, layoutFor(t))) {
      Functional.layerNorm(b, x, s.trailing(3), null, null, 1e-5, y, null, null);
      return y.toArray();
    }
  }

  private static float[] instanceNorm(Backend b, int t) {
    Shape s = shapeFor(t);
    try (Tensor x = Tensor.of(TestData.normal(t, (int) s.elementCount(), 1, 2), s, layoutFor(t));
        Tensor y = Tensor.zeros(s, layoutFor(t))) {
      Functional.instanceNorm(b, x, null, null, null, null, true, 0.1, 1e-5, y, null, null);
      return y.toArray();
    }
  }

  private static float[] weightStd(Backend b, int t) {
    Shape s = Shape.of(4 + t, 3, 3, 3);
    try (Tensor w = Tensor.of(TestData.normal(t, (int) s.elementCount(), 0, 0.1), s); Tensor y = Tensor.zeros(s)) {
      Functional.weightStandardize(b, w, WsVariant.SEED, 1e-5, 1, null, y, null, null);
      return y.toArray();
    }
  }

  private static float[] conv(Backend b, int t) {
    Shape s = shapeFor(t);
    Shape ws = Shape.of(3, 8, 3, 3);
    Conv2dSpec spec = Conv2dSpec.of(1, 1, 1, 1);
    try (Tensor x = Tensor.of(TestData.normal(t, (int) s.elementCount(), 0, 1), s, layoutFor(t));
        Tensor w = Tensor.of(TestData.normal(50 + t, (int) ws.elementCount(), 0, 0.1), ws);
        Tensor y = Tensor.zeros(spec.outputShape(s, ws), layoutFor(t))) {
      Functional.conv2d(b, x, w, null, spec, y);
      return y.toArray();
    }
  }

  /** Runs {@code task} for threads 0..THREADS-1 released together; their results in thread order. */
  static <T> List<T> inParallel(Function<Integer, T> task) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      CyclicBarrier start = new CyclicBarrier(THREADS);
      List<Future<T>> futures = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int id = t;
        Callable<T> c = () -> {
          start.await();
          return task.apply(id);
        };
        futures.add(pool.submit(c));
      }
      List<T> results = new ArrayList<>();
      for (Future<T> f : futures) results.add(f.get());
      return results;
    } finally {
      pool.shutdownNow();
    }
  }
}
