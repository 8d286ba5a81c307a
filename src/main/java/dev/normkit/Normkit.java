package dev.normkit;

import dev.normkit.backend.ThreadPolicy;

/** Process-wide settings of normkit. */
public final class Normkit {
  private Normkit() {}

  /**
   * Sets the number of OpenMP threads every normkit op (oneDNN primitives and normkit's kernels) uses from now on,
   * in every calling thread: 1 to {@link ThreadPolicy#MAX_THREADS} (4 per processor, at least 64; more cannot help, and
   * a count OpenMP fails to create would kill the JVM). The default is the {@code NORMKIT_NUM_THREADS} environment
   * variable if set, otherwise OpenMP's default (OMP_NUM_THREADS, or the number of cores), capped the same way.
   *
   * @throws IllegalArgumentException if threads is outside that range
   */
  public static void setNumThreads(int threads) {
    ThreadPolicy.setThreads(threads);
  }

  /** The number of threads ops use. */
  public static int numThreads() {
    return ThreadPolicy.threads();
  }
}
