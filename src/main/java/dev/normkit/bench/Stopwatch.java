package dev.normkit.bench;

import java.util.Arrays;

/**
 * Median-of-many timing for a noisy 2-core machine: warm up (excluded), then time single calls until both a
 * minimum count and a time budget are reached, and take the median, which ignores the occasional preempted call.
 */
final class Stopwatch {
  private final long warmupNs;
  private final long budgetNs;
  private final int minCalls;
  private final int maxCalls;

  Stopwatch(long warmupNs, long budgetNs, int minCalls, int maxCalls) {
    this.warmupNs = warmupNs;
    this.budgetNs = budgetNs;
    this.minCalls = minCalls;
    this.maxCalls = maxCalls;
  }

  /** The median duration of one call of {@code call}, in nanoseconds. */
  double medianNs(Runnable call) {
    warmUp(call);
    long[] times = new long[maxCalls];
    int n = 0;
    long start = System.nanoTime();
    while (measuring(n, start)) {
      long t0 = System.nanoTime();
      call.run();
      times[n++] = System.nanoTime() - t0;
    }
    return median(times, n);
  }

  /**
   * The median durations of single calls of {@code a} and of {@code b}, in nanoseconds, timed alternately call by
   * call (a, b, a, b, ...) so that both sample the same moments. On these VMs the speed of memory-bound calls drifts by
   * 20-30% from one second to the next; two medians taken one after the other (even best of three rounds each)
   * differed by up to 19 us on a 80 us call that both sides make identically.
   */
  double[] alternatingMediansNs(Runnable a, Runnable b) {
    warmUp(() -> {
      a.run();
      b.run();
    });
    long[] timesA = new long[maxCalls], timesB = new long[maxCalls];
    int n = 0;
    long start = System.nanoTime();
    while (measuring(n, start)) {
      long t0 = System.nanoTime();
      a.run();
      long t1 = System.nanoTime();
      b.run();
      timesB[n] = System.nanoTime() - t1;
      timesA[n++] = t1 - t0;
    }
    return new double[] {median(timesA, n), median(timesB, n)};
  }

  /** Runs {@code call} at least 3 times and for at least the warm-up time. */
  private void warmUp(Runnable call) {
    long start = System.nanoTime();
    for (int i = 0; i < 3 || System.nanoTime() - start < warmupNs; i++) call.run();
  }

  /** Whether to time another call after n calls since {@code start}: until the calls and the budget are both met. */
  private boolean measuring(int n, long start) {
    return n < maxCalls && (n < minCalls || System.nanoTime() - start < budgetNs);
  }

  /** The median of the first n times. */
  private static double median(long[] times, int n) {
    long[] measured = Arrays.copyOf(times, n);
    Arrays.sort(measured);
    return n % 2 == 1 ? measured[n / 2] : (measured[n / 2 - 1] + measured[n / 2]) / 2.0;
  }
}
