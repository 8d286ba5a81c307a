package dev.normkit.jmh;

import dev.normkit.Normkit;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.kernels.NormkitKernels;
import dev.normkit.bench.BenchCase;
import dev.normkit.bench.BenchCases;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The JMH form of the benchmark suite: the same cases as {@code normkit bench} (built by {@link BenchCases}), and
 * the streaming probe over each case's bytes, so that JMH's statistics can be set beside the bench's medians.
 *
 * <pre>
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt -Dmdep.includeScope=test
 * java -cp target/test-classes:target/classes:$(cat target/test-classpath.txt) org.openjdk.jmh.Main NormBenchmarks \
 *     -f 0 -p op=batch-norm -p layout=nchw -p shape=32x64x14x14 -p threads=1
 * </pre>
 *
 * ({@code -f 0} measures in the launching JVM; drop it to let JMH fork. Maven's exec:java cannot launch it: its
 * {@code exec.args} property would also become the arguments of the build's CMake executions.)
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class NormBenchmarks {
  @Param({"batch-norm", "layer-norm", "group-norm", "instance-norm"})
  public String op;

  @Param({"forward-training", "backward"})
  public String pass;

  @Param({"nchw", "nhwc"})
  public String layout;

  @Param({"32x64x14x14", "8x256x56x56", "1x64x7x7"})
  public String shape;

  @Param({"1", "2"})
  public int threads;

  private BenchCase benchCase;
  private Tensor probeSrc;
  private Tensor probeDst;
  private long probeFloats;

  @Setup(Level.Trial)
  public void setUp() {
    Normkit.setNumThreads(threads);
    benchCase = BenchCases.find(op, pass, layout, shape);
    probeFloats = benchCase.bytes() / (2L * Float.BYTES);
    probeSrc = Tensor.zeros(Shape.of(probeFloats));
    probeDst = Tensor.zeros(Shape.of(probeFloats));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    benchCase.close();
    probeSrc.close();
    probeDst.close();
  }

  /** One call of the case's pass, on preallocated tensors. */
  @Benchmark
  public void normalization() {
    benchCase.run();
  }

  /** y = 2x + 1 over the case's bytes: the bandwidth ceiling for the same traffic. */
  @Benchmark
  public void streamingProbe() {
    NormkitKernels.scaleShift(probeSrc, probeDst, probeFloats, 2f, 1f);
  }
}
