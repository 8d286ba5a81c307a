package dev.normkit.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.Backend;
import dev.normkit.BatchNorm;
import dev.normkit.Conv2dSpec;
import dev.normkit.Functional;
import dev.normkit.GroupNorm;
import dev.normkit.InstanceNorm;
import dev.normkit.LayerNorm;
import dev.normkit.Layout;
import dev.normkit.Normkit;
import dev.normkit.Shape;
import dev.normkit.StdConv2d;
import dev.normkit.Tensor;
import dev.normkit.WeightStandardization;
import dev.normkit.WsVariant;
import dev.normkit.backend.ThreadPolicy;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.stream.Stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bad-input contract of the README, on every backend: each bad argument is an {@link IllegalArgumentException}
 * whose message names the offending value (use after close: {@link IllegalStateException}), thrown before any
 * kernel runs, so the output tensor keeps its previous contents.
 */
class BadInputContractTest {
  private static final Shape X = Shape.of(2, 4, 3, 3);
  private static final float SENTINEL = 7f;

  /** One bad call: its expected message fragment and the call, given fresh valid tensors. */
  private record Bad(String name, String fragment, BadCall call) {
    @Override
    public String toString() {
      return name;
    }
  }

  @FunctionalInterface
  private interface BadCall {
    void run(Backend b, Fixture f);
  }

  /** Valid tensors for x of shape X (channels-first); y starts filled with a sentinel. */
  private static final class Fixture implements AutoCloseable {
    final Tensor x = Tensor.zeros(X), y = Tensor.zeros(X), dy = Tensor.zeros(X), dx = Tensor.zeros(X);
    final Tensor w4 = Tensor.zeros(Shape.of(4)), b4 = Tensor.zeros(Shape.of(4));
    final Tensor rm = Tensor.zeros(Shape.of(4)), rv = Tensor.zeros(Shape.of(4));
    final Tensor w5 = Tensor.zeros(Shape.of(5));
    final Tensor yLast = Tensor.zeros(X, Layout.CHANNELS_LAST);
    final Tensor yWrong = Tensor.zeros(Shape.of(2, 4, 3, 4));

    Fixture() {
      x.copyFrom(dev.normkit.TestData.normal(5, (int) X.elementCount(), 0, 1));
      rv.fill(1);
      w4.fill(1);
      for (Tensor t : List.of(y, dx, yLast, yWrong)) t.fill(SENTINEL);
    }

    @Override
    public void close() {
      for (Tensor t : List.of(x, y, dy, dx, w4, b4, rm, rv, w5, yLast, yWrong)) t.close();
    }
  }

  static Stream<Arguments> cases() {
    List<Bad> bad = new ArrayList<>();
    // batch norm
    bad.add(new Bad("bn rank 1 input", "rank 1", (b, f) -> {
      try (Tensor v = Tensor.zeros(Shape.of(4))) {
        Functional.batchNorm(b, v, null, null, null, null, true, 0.1, 1e-5, v, null, null);
      }
    }));
    bad.add(new Bad("bn weight of 5 channels", "weight must have shape (4), got (5)",
        (b, f) -> Functional.batchNorm(b, f.x, null, null, f.w5, f.w5, true, 0.1, 1e-5, f.y, null, null)));
    bad.add(new Bad("bn running mean of 5", "runningMean must have shape (4), got (5)",
        (b, f) -> Functional.batchNorm(b, f.x, f.w5, f.rv, null, null, true, 0.1, 1e-5, f.y, null, null)));
    bad.add(new Bad("bn weight without bias", "weight only",
        (b, f) -> Functional.batchNorm(b, f.x, null, null, f.w4, null, true, 0.1, 1e-5, f.y, null, null)));
    for (double eps : new double[] {0, -1e-5, Double.NaN, Double.POSITIVE_INFINITY}) {
      bad.add(new Bad("bn eps " + eps, "eps must be positive and finite, got " + eps,
          (b, f) -> Functional.batchNorm(b, f.x, null, null, null, null, true, 0.1, eps, f.y, null, null)));
    }
    for (double m : new double[] {-0.1, 1.5, Double.NaN}) {
      bad.add(new Bad("bn momentum " + m, "momentum must be in [0, 1], got " + m,
          (b, f) -> Functional.batchNorm(b, f.x, f.rm, f.rv, null, null, true, m, 1e-5, f.y, null, null)));
    }
    bad.add(new Bad("bn one value per channel", "Expected more than 1 value per channel when training, got input size (1, 4)",
        (b, f) -> {
          try (Tensor v = Tensor.zeros(Shape.of(1, 4)); Tensor out = Tensor.zeros(Shape.of(1, 4))) {
            Functional.batchNorm(b, v, null, null, null, null, true, 0.1, 1e-5, out, null, null);
          }
        }));
    bad.add(new Bad("bn eval without running stats", "running_mean",
        (b, f) -> Functional.batchNorm(b, f.x, null, null, null, null, false, 0.1, 1e-5, f.y, null, null)));
    bad.add(new Bad("bn output of wrong shape", "output must have shape (2, 4, 3, 3), got (2, 4, 3, 4)",
        (b, f) -> Functional.batchNorm(b, f.x, null, null, null, null, true, 0.1, 1e-5, f.yWrong, null, null)));
    bad.add(new Bad("bn output of wrong layout", "output must have layout CHANNELS_FIRST",
        (b, f) -> Functional.batchNorm(b, f.x, null, null, null, null, true, 0.1, 1e-5, f.yLast, null, null)));
    bad.add(new Bad("bn null input", "input must not be null",
        (b, f) -> Functional.batchNorm(b, null, null, null, null, null, true, 0.1, 1e-5, f.y, null, null)));
    bad.add(new Bad("bn null output", "output must not be null",
        (b, f) -> Functional.batchNorm(b, f.x, null, null, null, null, true, 0.1, 1e-5, null, null, null)));
    bad.add(new Bad("bn backward grad of wrong shape", "gradOutput must have shape (2, 4, 3, 3)",
        (b, f) -> Functional.batchNormBackward(b, f.x, f.yWrong, null, f.rm, f.rv, true, 1e-5, f.dx, null, null)));
    bad.add(new Bad("bn backward dweight without weight", "without a weight",
        (b, f) -> Functional.batchNormBackward(b, f.x, f.dy, null, f.rm, f.rv, true, 1e-5, f.dx, f.w4, null)));
    // layer norm
    bad.add(new Bad("ln normalized shape not trailing", "normalizedShape (4, 3) is not the trailing dims of input shape (2, 4, 3, 3)",
        (b, f) -> Functional.layerNorm(b, f.x, Shape.of(4, 3), null, null, 1e-5, f.y, null, null)));
    bad.add(new Bad("ln weight of wrong shape", "weight must have shape (3, 3), got (4)",
        (b, f) -> Functional.layerNorm(b, f.x, Shape.of(3, 3), f.w4, f.b4, 1e-5, f.y, null, null)));
    bad.add(new Bad("ln eps NaN", "eps must be positive and finite, got NaN",
        (b, f) -> Functional.layerNorm(b, f.x, Shape.of(3), null, null, Double.NaN, f.y, null, null)));
    // group norm
    bad.add(new Bad("gn groups not dividing C", "channels 4 not divisible by groups 3",
        (b, f) -> Functional.groupNorm(b, f.x, 3, null, null, 1e-5, f.y, null, null)));
    bad.add(new Bad("gn zero groups", "groups must be >= 1, got 0",
        (b, f) -> Functional.groupNorm(b, f.x, 0, null, null, 1e-5, f.y, null, null)));
    bad.add(new Bad("gn a single value", "Expected more than 1 value per channel when training, got input size (1, 5)",
        (b, f) -> {
          try (Tensor v = Tensor.zeros(Shape.of(1, 5)); Tensor out = Tensor.zeros(Shape.of(1, 5))) {
            Functional.groupNorm(b, v, 5, null, null, 1e-5, out, null, null);
          }
        }));
    bad.add(new Bad("gn weight of 5", "weight must have shape (4), got (5)",
        (b, f) -> Functional.groupNorm(b, f.x, 2, f.w5, f.w5, 1e-5, f.y, null, null)));
    // instance norm
    bad.add(new Bad("in one spatial value", "Expected more than 1 spatial element when training, got input size (2, 4, 1)",
        (b, f) -> {
          try (Tensor v = Tensor.zeros(Shape.of(2, 4, 1)); Tensor out = Tensor.zeros(Shape.of(2, 4, 1))) {
            Functional.instanceNorm(b, v, null, null, null, null, true, 0.1, 1e-5, out, null, null);
          }
        }));
    bad.add(new Bad("in running var of 5", "runningVar must have shape (4), got (5)",
        (b, f) -> Functional.instanceNorm(b, f.x, f.rm, f.w5, null, null, true, 0.1, 1e-5, f.y, null, null)));
    // weight standardization
    bad.add(new Bad("ws seed with K = 1", "K > 1", (b, f) -> {
      try (Tensor w = Tensor.zeros(Shape.of(4, 1, 1, 1)); Tensor out = Tensor.zeros(Shape.of(4, 1, 1, 1))) {
        Functional.weightStandardize(b, w, WsVariant.SEED, 1e-5, 1, null, out, null, null);
      }
    }));
    bad.add(new Bad("ws gain for the seed variant", "gain is only used by the SCALED variant",
        (b, f) -> Functional.weightStandardize(b, f.x, WsVariant.SEED, 1e-5, 1, f.w5, f.y, null, null)));
    bad.add(new Bad("ws rank 1 weight", "rank >= 2", (b, f) -> {
      try (Tensor out = Tensor.zeros(Shape.of(4))) {
        Functional.weightStandardize(b, f.w4, WsVariant.BATCH_NORM_STYLE, 1e-6, 1, null, out, null, null);
      }
    }));
    // conv2d
    bad.add(new Bad("conv weight channels", "needs C/groups = 4 input channels per group, has 3", (b, f) -> {
      try (Tensor w = Tensor.zeros(Shape.of(2, 3, 3, 3)); Tensor out = Tensor.zeros(Shape.of(2, 2, 1, 1))) {
        Functional.conv2d(b, f.x, w, null, Conv2dSpec.defaults(), out);
      }
    }));
    bad.add(new Bad("conv kernel larger than input", "does not fit input 3x3", (b, f) -> {
      try (Tensor w = Tensor.zeros(Shape.of(2, 4, 5, 5)); Tensor out = Tensor.zeros(Shape.of(2, 2, 1, 1))) {
        Functional.conv2d(b, f.x, w, null, Conv2dSpec.defaults(), out);
      }
    }));
    // a 3x3 output from a padded input and a dilated kernel beyond 32-bit ints killed the JVM inside oneDNN
    bad.add(new Bad("conv padding and dilation beyond int", "spans 2147483651", (b, f) -> {
      try (Tensor w = Tensor.zeros(Shape.of(2, 4, 3, 3)); Tensor out = Tensor.zeros(Shape.of(2, 2, 3, 3))) {
        Functional.conv2d(b, f.x, w, null, Conv2dSpec.of(1, (1 << 30) + 1, (1 << 30) + 1, 1), out);
      }
    }));
    bad.add(new Bad("conv kernel of width 0", "kernel must be at least 1x1, got 3x0", (b, f) -> {
      try (Tensor w = Tensor.zeros(Shape.of(2, 4, 3, 0)); Tensor out = Tensor.zeros(Shape.of(2, 2, 1, 4))) {
        Functional.conv2d(b, f.x, w, null, Conv2dSpec.defaults(), out);
      }
    }));
    // parameters are read in logical order: a channels-last one would be misread (the JAVA backend honoured it)
    bad.add(new Bad("ln channels-last weight", "weight must be in logical memory order (CHANNELS_FIRST), got CHANNELS_LAST",
        (b, f) -> {
          try (Tensor g = Tensor.zeros(Shape.of(4, 3, 3), Layout.CHANNELS_LAST);
              Tensor beta = Tensor.zeros(Shape.of(4, 3, 3))) {
            Functional.layerNorm(b, f.x, Shape.of(4, 3, 3), g, beta, 1e-5, f.y, null, null);
          }
        }));
    bad.add(new Bad("ln backward channels-last gradWeight", "gradWeight must be in logical memory order", (b, f) -> {
      try (Tensor g = Tensor.zeros(Shape.of(4, 3, 3)); Tensor dg = Tensor.zeros(Shape.of(4, 3, 3), Layout.CHANNELS_LAST);
          Tensor mean = Tensor.zeros(Shape.of(2)); Tensor var = Tensor.zeros(Shape.of(2))) {
        Functional.layerNormBackward(b, f.x, f.dy, Shape.of(4, 3, 3), g, mean, var, 1e-5, f.dx, dg, null);
      }
    }));
    // no output may share memory with another argument of its call
    bad.add(new Bad("bn saved mean is the running mean", "saveMean shares memory with runningMean",
        (b, f) -> Functional.batchNorm(b, f.x, f.rm, f.rv, null, null, true, 0.1, 1e-5, f.y, f.rm, null)));
    bad.add(new Bad("bn output over the weight", "output shares memory with weight", (b, f) -> {
      try (Tensor g = Tensor.wrap(f.y.pointer(), Shape.of(4), Layout.CHANNELS_FIRST)) {
        Functional.batchNorm(b, f.x, null, null, g, f.b4, true, 0.1, 1e-5, f.y, null, null);
      }
    }));
    bad.add(new Bad("gn saved variance inside the output", "output shares memory with saveVar", (b, f) -> {
      try (Tensor var = Tensor.wrap(f.y.pointer().position(8), Shape.of(2, 2), Layout.CHANNELS_FIRST)) {
        Functional.groupNorm(b, f.x, 2, null, null, 1e-5, f.y, null, var);
      }
    }));
    bad.add(new Bad("in running mean is the running variance", "runningMean shares memory with runningVar",
        (b, f) -> Functional.instanceNorm(b, f.x, f.rm, f.rm, null, null, true, 0.1, 1e-5, f.y, null, null)));
    bad.add(new Bad("bn backward gradWeight is the weight", "gradWeight shares memory with weight",
        (b, f) -> Functional.batchNormBackward(b, f.x, f.dy, f.w4, f.rm, f.rv, true, 1e-5, f.dx, f.w4, f.b4)));
    bad.add(new Bad("gn backward gradInput over the mean", "gradInput shares memory with mean", (b, f) -> {
      try (Tensor mean = Tensor.wrap(f.dx.pointer(), Shape.of(2, 2), Layout.CHANNELS_FIRST);
          Tensor var = Tensor.zeros(Shape.of(2, 2))) {
        Functional.groupNormBackward(b, f.x, f.dy, 2, null, mean, var, 1e-5, f.dx, null, null);
      }
    }));
    bad.add(new Bad("ws saved rstd is the saved mean", "saveMean shares memory with saveRstd", (b, f) -> {
      try (Tensor stats = Tensor.zeros(Shape.of(2))) {
        Functional.weightStandardize(b, f.x, WsVariant.SEED, 1e-5, 1, null, f.y, stats, stats);
      }
    }));
    bad.add(new Bad("conv backward gradWeight inside gradInput", "gradInput shares memory with gradWeight", (b, f) -> {
      try (Tensor w = Tensor.zeros(Shape.of(2, 4, 1, 1)); Tensor dy = Tensor.zeros(Shape.of(2, 2, 3, 3));
          Tensor dw = Tensor.wrap(f.dx.pointer(), Shape.of(2, 4, 1, 1), Layout.CHANNELS_FIRST)) {
        Functional.conv2dBackward(b, f.x, w, dy, Conv2dSpec.defaults(), f.dx, dw, null);
      }
    }));
    List<Arguments> args = new ArrayList<>();
    for (Bad c : bad) for (Backend b : Backend.values()) args.add(Arguments.of(c, b));
    return args.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void rejectedWithTheOffendingValueAndNothingWritten(Bad bad, Backend backend) {
    try (Fixture f = new Fixture()) {
      float[] before = f.y.toArray();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bad.call.run(backend, f));
      assertTrue(e.getMessage().contains(bad.fragment), "message '" + e.getMessage() + "' lacks '" + bad.fragment + "'");
      assertArrayEquals(before, f.y.toArray(), "the output was written");
      assertArrayEquals(before, f.dx.toArray(), "the gradient was written");
    }
  }

  /**
   * Thread counts: 1 to ThreadPolicy.MAX_THREADS. Asking for 100,000 OpenMP threads killed the JVM with SIGSEGV at
   * the next op before the upper bound existed.
   */
  @Test
  void threadCountsOutsideTheirRangeAreRejected() {
    int before = Normkit.numThreads();
    try {
      for (int bad : new int[] {0, -1, ThreadPolicy.MAX_THREADS + 1, 100_000}) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Normkit.setNumThreads(bad));
        assertTrue(e.getMessage().contains("got " + bad), e.getMessage());
        assertEquals(before, Normkit.numThreads());
      }
      Normkit.setNumThreads(ThreadPolicy.MAX_THREADS);
      assertEquals(ThreadPolicy.MAX_THREADS, Normkit.numThreads());
    } finally {
      Normkit.setNumThreads(before);
    }
  }

  /** Wrapped memory that cannot hold the tensor, where the pointer or buffer knows its extent. */
  @Test
  void wrappedMemoryTooSmallIsRejected() {
    try (FloatPointer memory = new FloatPointer(100)) {
      Shape s = Shape.of(20);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Tensor.wrap(new FloatPointer(memory).position(90), s, Layout.CHANNELS_FIRST));
      assertTrue(e.getMessage().contains("holds 10 floats from its position 90"), e.getMessage());
      // a position past the extent once slipped through: the available count was negative and skipped the check
      e = assertThrows(IllegalArgumentException.class,
          () -> Tensor.wrap(new FloatPointer(memory).position(200), s, Layout.CHANNELS_FIRST));
      assertTrue(e.getMessage().contains("holds 0 floats from its position 200"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> Tensor.wrap(new FloatPointer(memory).position(-1), s, Layout.CHANNELS_FIRST));
      assertTrue(e.getMessage().contains("negative"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> Tensor.wrap(new FloatPointer(memory).limit(50).position(40), s, Layout.CHANNELS_FIRST));
      assertTrue(e.getMessage().contains("holds 10 floats"), e.getMessage());
      Tensor fits = Tensor.wrap(new FloatPointer(memory).position(80), s, Layout.CHANNELS_FIRST);
      fits.fill(2);
      assertEquals(2f, memory.get(99));
    }
    try (Tensor t = Tensor.zeros(Shape.of(4, 4))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> t.reshapeMemory(Shape.of(16), null));
      assertTrue(e.getMessage().contains("layout must not be null"), e.getMessage());
    }
    FloatBuffer readOnly = ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder()).asFloatBuffer().asReadOnlyBuffer();
    IllegalArgumentException readOnlyError = assertThrows(IllegalArgumentException.class,
        () -> Tensor.wrap(readOnly, Shape.of(16), Layout.CHANNELS_FIRST));
    assertTrue(readOnlyError.getMessage().contains("read-only"), readOnlyError.getMessage());
    FloatBuffer small = ByteBuffer.allocateDirect(40).order(ByteOrder.nativeOrder()).asFloatBuffer();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Tensor.wrap(small, Shape.of(11), Layout.CHANNELS_FIRST));
    assertTrue(e.getMessage().contains("holds 10 floats"), e.getMessage());
  }

  /**
   * Memory that does not start on a float boundary is refused by both wraps. Such a buffer reached the kernels'
   * non-temporal stores, which fault on it: instance norm writing its (8, 64, 56, 56) output into one crashed the JVM.
   */
  @Test
  void floatMisalignedWrappedMemoryIsRejected() {
    for (int offset = 1; offset < Float.BYTES; offset++) {
      FloatBuffer misaligned =
          ByteBuffer.allocateDirect(64 + offset).position(offset).slice().order(ByteOrder.nativeOrder()).asFloatBuffer();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Tensor.wrap(misaligned, Shape.of(16), Layout.CHANNELS_FIRST));
      assertTrue(e.getMessage().contains("not aligned to a float"), e.getMessage());
    }
    try (BytePointer bytes = new BytePointer(80)) {
      FloatPointer misaligned = floatsAt(bytes.address() + 2);  // 2 bytes past a float boundary
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Tensor.wrap(misaligned, Shape.of(16), Layout.CHANNELS_FIRST));
      assertTrue(e.getMessage().contains("not aligned to a float"), e.getMessage());
    }
    FloatBuffer aligned = ByteBuffer.allocateDirect(68).position(4).slice().order(ByteOrder.nativeOrder()).asFloatBuffer();
    try (Tensor t = Tensor.wrap(aligned, Shape.of(16), Layout.CHANNELS_FIRST)) {
      t.fill(3);
      assertEquals(3f, aligned.get(15));
    }
  }

  @Test
  void shapesWhoseElementCountOverflowAreRejected() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Shape.of(1L << 32, 1L << 32, 4));
    assertTrue(e.getMessage().contains("overflows"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Shape.of(1L << 31, 1L << 31));
    assertTrue(e.getMessage().contains("byte size"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -3));
    assertTrue(e.getMessage().contains("negative"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Shape.of(1, 2, 3, 4, 5, 6));
    assertTrue(e.getMessage().contains("got 6"), e.getMessage());
  }

  @Test
  void closedTensorsAndLayersThrowIllegalState() throws Exception {
    Tensor x = Tensor.zeros(X);
    x.close();
    x.close();
    try (Tensor y = Tensor.zeros(X)) {
      for (Backend b : Backend.values()) {
        assertThrows(IllegalStateException.class,
            () -> Functional.batchNorm(b, x, null, null, null, null, true, 0.1, 1e-5, y, null, null));
        assertThrows(IllegalStateException.class, () -> Functional.groupNorm(b, y, 2, null, null, 1e-5, x, null, null));
      }
      assertThrows(IllegalStateException.class, x::toArray);
      assertThrows(IllegalStateException.class, x::pointer);
    }
    BatchNorm bn = BatchNorm.builder(4).build();
    LayerNorm ln = LayerNorm.builder(3, 3).build();
    GroupNorm gn = GroupNorm.builder(2, 4).build();
    InstanceNorm in = InstanceNorm.builder(4).build();
    WeightStandardization ws = WeightStandardization.builder(2).build();
    StdConv2d conv = StdConv2d.builder(4, 2, 3).build();
    try (Tensor y = Tensor.zeros(X)) {
      for (AutoCloseable l : List.of(bn, ln, gn, in, ws, conv)) {
        l.close();
        l.close();
      }
      assertThrows(IllegalStateException.class, () -> bn.forward(y));
      assertThrows(IllegalStateException.class, () -> ln.forward(y));
      assertThrows(IllegalStateException.class, () -> gn.forward(y));
      assertThrows(IllegalStateException.class, () -> in.forward(y));
      assertThrows(IllegalStateException.class, () -> conv.forward(y));
      assertThrows(IllegalStateException.class, () -> ws.forward(y));
      assertThrows(IllegalStateException.class, bn::weight);
    }
  }

  @Test
  void layersRejectWrongChannelsAndBadSettings() {
    assertMessage("numFeatures must be >= 1, got 0", () -> BatchNorm.builder(0));
    assertMessage("channels 64 not divisible by groups 3", () -> GroupNorm.builder(3, 64));
    assertMessage("momentum must be in [0, 1], got 2.0", () -> BatchNorm.builder(4).momentum(2));
    assertMessage("eps must be positive and finite, got -1.0", () -> InstanceNorm.builder(4).eps(-1));
    try (BatchNorm bn = BatchNorm.builder(5).build(); GroupNorm gn = GroupNorm.builder(2, 6).build();
        LayerNorm ln = LayerNorm.builder(4).build(); Tensor x = Tensor.zeros(X)) {
      assertMessage("BatchNorm expects 5 channels, input (2, 4, 3, 3) has 4", () -> bn.forward(x));
      assertMessage("GroupNorm expects 6 channels, input (2, 4, 3, 3) has 4", () -> gn.forward(x));
      assertMessage("normalizedShape (4) is not the trailing dims of input shape (2, 4, 3, 3)", () -> ln.forward(x));
      assertThrows(IllegalStateException.class, () -> bn.backward(x), "backward before forward");
    }
    assertMessage("has 4294967296 elements, more than the 2147483639 a StdConv2d can initialise",
        () -> StdConv2d.builder(1 << 16, 1 << 16, 1).build());
  }

  /**
   * A forward rejected for its arguments leaves the layer as it was: the backward of the last successful forward
   * still runs, with its statistics (a rejected forward of another batch size used to replace them first, so that
   * this backward failed on their shape).
   */
  @Test
  void aRejectedForwardLeavesTheLayersLastForwardForBackward() {
    Shape good = Shape.of(2, 4, 5), other = Shape.of(3, 4, 5);
    try (GroupNorm gn = GroupNorm.builder(2, 4).build(); LayerNorm ln = LayerNorm.builder(5).build();
        InstanceNorm in = InstanceNorm.builder(4).build();
        Tensor x = Tensor.of(dev.normkit.TestData.normal(3, (int) good.elementCount(), 0.5, 2), good);
        Tensor dy = Tensor.of(dev.normkit.TestData.normal(4, (int) good.elementCount(), 0, 1), good);
        Tensor otherX = Tensor.zeros(other); Tensor otherYLast = Tensor.zeros(other, Layout.CHANNELS_LAST)) {
      List<BiConsumer<Tensor, Tensor>> forwards = List.of(gn::forward, ln::forward, in::forward);
      List<Function<Tensor, Tensor>> backwards = List.of(gn::backward, ln::backward, in::backward);
      for (int i = 0; i < 3; i++) {
        BiConsumer<Tensor, Tensor> forward = forwards.get(i);
        try (Tensor y = Tensor.zeros(good)) {
          forward.accept(x, y);
        }
        float[] expected;
        try (Tensor dx = backwards.get(i).apply(dy)) {
          expected = dx.toArray();
        }
        assertThrows(IllegalArgumentException.class, () -> forward.accept(otherX, otherYLast));
        try (Tensor dx = backwards.get(i).apply(dy)) {
          assertArrayEquals(expected, dx.toArray(), "backward after a rejected forward, layer " + i);
        }
      }
    }
  }

  private static void assertMessage(String fragment, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' lacks '" + fragment + "'");
  }

  /** A float pointer at a raw address (which may be misaligned), of unknown extent. */
  private static FloatPointer floatsAt(long at) {
    // inside the anonymous class a plain "address" names Pointer's field, hence "at"
    return new FloatPointer(new Pointer() {
      {
        this.address = at;
      }
    });
  }
}
