package dev.normkit;

import dev.normkit.backend.ThreadPolicy;

/** Process-wide settings of normkit. */
public final class Normkit {
  private Normkit() {}

  /**
   * Sets the number of OpenMP threads every normkit op (oneDNN primitives and normkit's kernels) uses from now on,
   * in every calling thread. The default is the {@code NORMKIT_NUM_THREADS} environment variable if set, otherwise
   * OpenMP's default (OMP_NUM_THREADS, or the number of cores).
   */
  public static void setNumThreads(int threads) {
    Checks.argument(threads >= 1, "threads must be >= 1, got " + threads);
    ThreadPolicy.setThreads(threads);
  }

  /** The number of threads ops use. */
  public static int numThreads() {
    return ThreadPolicy.threads();
  }
}
