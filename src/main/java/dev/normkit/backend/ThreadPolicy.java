package dev.normkit.backend;

import dev.normkit.backend.kernels.NormkitKernels;

/**
 * The number of OpenMP threads normkit's native ops use. OpenMP keeps that number per calling thread, so the
 * process-wide request is applied lazily to each Java thread before its next native call ({@link #apply()}: one
 * thread-local read when nothing changed). oneDNN primitives are cached per thread count, since some of them fix
 * their work partition when created.
 *
 * <p>Default: the {@code NORMKIT_NUM_THREADS} environment variable if set, else OpenMP's own default
 * ({@code OMP_NUM_THREADS}, or the number of cores), at most {@link #MAX_THREADS}.
 */
public final class ThreadPolicy {
  /**
   * The most threads normkit runs with: 4 per processor, and at least 64. More only oversubscribes the cores, and a
   * request OpenMP cannot create kills the JVM: 100,000 threads ended in SIGSEGV on a 2-core VM (4096 still ran).
   */
  public static final int MAX_THREADS = Math.max(64, 4 * Runtime.getRuntime().availableProcessors());

  private static volatile int requested = initialThreads();
  private static final ThreadLocal<int[]> APPLIED = ThreadLocal.withInitial(() -> new int[] {-1});

  private ThreadPolicy() {}

  private static int initialThreads() {
    String env = System.getenv("NORMKIT_NUM_THREADS");
    if (env != null && !env.isBlank()) {
      try {
        int n = Integer.parseInt(env.trim());
        if (n >= 1) return Math.min(n, MAX_THREADS);
      } catch (NumberFormatException ignored) {
        // fall through to OpenMP's default
      }
    }
    return Math.min(Math.max(1, NormkitKernels.maxThreads()), MAX_THREADS);
  }

  /** Requests {@code threads} (1 to {@link #MAX_THREADS}) for every native op from now on. */
  public static void setThreads(int threads) {
    if (threads < 1 || threads > MAX_THREADS) {
      throw new IllegalArgumentException("threads must be between 1 and " + MAX_THREADS + ", got " + threads);
    }
    requested = threads;
  }

  /** The requested thread count. */
  public static int threads() {
    return requested;
  }

  /** Makes the calling thread's OpenMP thread count the requested one; call before any native op. */
  public static void apply() {
    apply(requested);
  }

  /**
   * The threads for a call of {@code work} units (values, or flops) of a kind that runs best on one thread below
   * {@code oneThreadBelow} units (waking a sleeping second thread costs 20-75 us per parallel region on these VMs):
   * 1 below it, else the requested count.
   */
  public static int threadsFor(double work, double oneThreadBelow) {
    return work < oneThreadBelow ? 1 : requested;
  }

  /**
   * Makes the calling thread's OpenMP thread count {@code threads} (>= 1), e.g. a oneDNN primitive's own count, or
   * fewer than requested for a call too small to gain from more; the next {@link #apply()} restores the request.
   */
  public static void apply(int threads) {
    int[] applied = APPLIED.get();
    if (applied[0] != threads) {
      NormkitKernels.setNumThreads(threads);
      applied[0] = threads;
    }
  }
}
