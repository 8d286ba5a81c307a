package dev.normkit.bench;

import dev.normkit.Normkit;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Runs the suite ({@link BenchCases}) case by case, each case at every requested thread count in turn: its median
 * time, then the streaming probe over the same bytes right after it, so that a ratio compares two measurements taken
 * under the same conditions. The thread counts of one case are measured back to back, seconds apart rather than a
 * whole suite apart: the speed of these VMs drifts over tens of seconds (a memory-bound case ran 1.5-2x slower for
 * a while), and a 1- versus 2-thread comparison split by minutes could fall on two different speeds.
 */
public final class BenchRunner {
  private final Stopwatch caseWatch;
  private final Stopwatch probeWatch;

  /** {@code quick}: a short budget per case (a smoke run); otherwise enough calls for stable medians. */
  public BenchRunner(boolean quick) {
    long ms = 1_000_000L;
    this.caseWatch = quick ? new Stopwatch(20 * ms, 60 * ms, 5, 2000) : new Stopwatch(150 * ms, 400 * ms, 15, 20000);
    this.probeWatch = quick ? new Stopwatch(10 * ms, 40 * ms, 5, 2000) : new Stopwatch(80 * ms, 250 * ms, 15, 20000);
  }

  /** Measures every case accepted by {@code filter} at each thread count; prints a table row per case to out. */
  public List<BenchRecord> run(List<Integer> threadCounts, Predicate<BenchCase> filter, PrintStream out) {
    List<BenchRecord> records = new ArrayList<>();
    out.printf("%-14s %-18s %-5s %-18s %3s %12s %9s %9s %6s%n",
        "op", "pass", "lay", "shape", "thr", "median_us", "GB/s", "probe", "ratio");
    int before = Normkit.numThreads();
    try (StreamingProbe probe = new StreamingProbe()) {
      for (Supplier<BenchCase> supplier : BenchCases.all()) {
        try (BenchCase c = supplier.get()) {
          if (!filter.test(c)) continue;
          for (int threads : threadCounts) {
            Normkit.setNumThreads(threads);
            double caseNs = caseWatch.medianNs(c::run);
            double probeNs = probeWatch.medianNs(probe.over(c.bytes()));
            BenchRecord r = new BenchRecord(c.op(), c.pass(), c.layout(), c.shape(), c.params(), threads, caseNs,
                c.bytes(), probeNs);
            records.add(r);
            out.printf("%-14s %-18s %-5s %-18s %3d %12.1f %9.1f %9.1f %6.2f%n", r.op(), r.pass(), r.layout(),
                shapeText(r.shape()), threads, caseNs / 1e3, r.gbps(), r.probeGbps(), r.ratio());
          }
        }
      }
    } finally {
      Normkit.setNumThreads(before);
    }
    return records;
  }

  static String shapeText(long[] shape) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < shape.length; i++) s.append(i > 0 ? "x" : "").append(shape[i]);
    return s.toString();
  }
}
