package dev.normkit.bench;

import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Normkit;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A long-running loop over every op and pass at small shapes, checking that nothing leaks: the tensor memory normkit
 * holds returns to where it was, and the process's resident memory outside the Java heap stays flat once warm. That
 * is RSS minus the heap's touched pages, estimated by the peak use of each heap pool: until its first young
 * collection the JVM keeps touching fresh eden pages for the loop's short-lived objects (measured with the default
 * heap of a 24 GiB machine: RSS 144 -> 350 MiB over the first 700,000 calls, then flat), which is heap sizing, not a
 * leak; a native leak shows in the rest. Nine calls in ten reuse preallocated tensors (the zero-allocation path);
 * every tenth call allocates and frees its output through the short functional form.
 */
public final class Soak {
  /** RSS outside the heap may move by this much after warm-up (JIT code, metaspace) without counting as a leak. */
  static final long RSS_SLACK_BYTES = 32L << 20;

  private Soak() {}

  /** Runs {@code calls} calls with {@code threads} threads; prints checkpoints; true when nothing leaked. */
  public static boolean run(long calls, int threads, PrintStream out) {
    Normkit.setNumThreads(threads);
    Shape tiny = Shape.of(2, 16, 5, 5);
    List<BenchCase> cases = new ArrayList<>();
    for (Layout l : Layout.values()) {
      for (String pass : List.of(BenchCases.FORWARD_TRAINING, BenchCases.FORWARD_INFERENCE, BenchCases.BACKWARD)) {
        cases.add(BenchCases.batchNorm(tiny, l, pass));
        cases.add(BenchCases.instanceNorm(tiny, l, pass));
      }
      for (String pass : List.of(BenchCases.FORWARD_TRAINING, BenchCases.BACKWARD)) {
        cases.add(BenchCases.groupNorm(tiny, l, pass));
        cases.add(BenchCases.layerNorm(tiny, l, 3, pass));
        cases.add(BenchCases.stdConv2d(Shape.of(1, 8, 5, 5), l, pass));
      }
    }
    cases.add(BenchCases.weightStandardization(Shape.of(16, 8, 3, 3), BenchCases.FORWARD_TRAINING));
    cases.add(BenchCases.weightStandardization(Shape.of(16, 8, 3, 3), BenchCases.BACKWARD));
    try (Tensor x = Tensor.zeros(tiny, Layout.CHANNELS_LAST)) {
      x.fill(0.5f);
      x.set(2f, 0, 0, 0, 0);
      long warm = Math.max(1, calls / 10);
      long baselineBytes = 0, baselineRss = 0;
      long start = System.nanoTime();
      out.printf("%12s %16s %12s %22s %10s%n", "calls", "live tensor B", "RSS MiB", "RSS outside heap MiB",
          "seconds");
      for (long i = 1; i <= calls; i++) {
        if (i % 10 == 0) {
          try (Tensor y = Functional.groupNorm(x, 4, null, null, 1e-5)) {
            y.elementCount();
          }
        } else {
          cases.get((int) (i % cases.size())).run();
        }
        if (i == warm) {
          baselineBytes = Tensor.liveNativeBytes();
          baselineRss = rssOutsideHeapBytes();
        }
        if (i % Math.max(1, calls / 10) == 0 || i == calls) {
          out.printf("%12d %16d %12.1f %22.1f %10.1f%n", i, Tensor.liveNativeBytes(), rssBytes() / 1048576.0,
              rssOutsideHeapBytes() / 1048576.0, (System.nanoTime() - start) / 1e9);
        }
      }
      long bytesGrowth = Tensor.liveNativeBytes() - baselineBytes;
      long rssGrowth = rssOutsideHeapBytes() - baselineRss;
      boolean ok = bytesGrowth == 0 && rssGrowth <= RSS_SLACK_BYTES;
      out.printf("tensor memory growth after warm-up: %d bytes; RSS growth outside the heap: %.1f MiB (slack %d MiB):"
          + " %s%n", bytesGrowth, rssGrowth / 1048576.0, RSS_SLACK_BYTES >> 20, ok ? "flat" : "LEAK");
      return ok;
    } finally {
      for (BenchCase c : cases) c.close();
    }
  }

  /** RSS minus the Java heap's touched pages (the sum of the heap pools' peak use). */
  static long rssOutsideHeapBytes() {
    long heapPeak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) heapPeak += pool.getPeakUsage().getUsed();
    }
    return rssBytes() - heapPeak;
  }

  /** VmRSS of this process from /proc/self/status (0 where unavailable). */
  public static long rssBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }
}
