package dev.normkit.backend;

import dev.normkit.backend.kernels.ProcessEnvironment;

/**
 * Loads the native runtime once: first the OpenMP settings that libgomp only reads when it is loaded, then the
 * dnnl preset (libgomp.so.1 and libdnnl.so.3 from its jar), which normkit's own kernels share.
 *
 * <p>OpenMP wait policy: unless the process already has {@code OMP_WAIT_POLICY} or {@code GOMP_SPINCOUNT} in its
 * environment, normkit sets {@code GOMP_SPINCOUNT} to {@value #DEFAULT_SPIN_COUNT}: an idle OpenMP thread spins
 * that many polls (about 0.2 ms on these machines) for the next parallel region, then sleeps. Measured on the
 * 2-core VMs (README, Performance):
 *
 * <ul>
 *   <li>waking a sleeping thread costs 45-75 us per parallel region or barrier (an empty 2-thread region: 53-77 us
 *       with {@code OMP_WAIT_POLICY=PASSIVE}, 0.6 us while the thread still spins), so with always-sleeping threads
 *       a second thread slowed every pass below a few million values (a batch-norm backward over 2^20 values:
 *       213 us with 1 thread, 388 us with 2 passive, 125-130 us with 2 spinning);
 *   <li>libgomp's own default (300,000 polls, several milliseconds) made the test suite slower under load (66 s
 *       against 57 s with one core busy elsewhere); {@value #DEFAULT_SPIN_COUNT} polls cost nothing there (56 s);
 *   <li>shorter spins keep the cost of a spinning thread that the scheduler put on the caller's core small.
 * </ul>
 *
 * Set {@code OMP_WAIT_POLICY} (ACTIVE or PASSIVE) or {@code GOMP_SPINCOUNT} in the environment to choose otherwise.
 * When the environment asks for threads that never spin ({@code OMP_WAIT_POLICY=PASSIVE} without a spin count, or
 * {@code GOMP_SPINCOUNT=0}) and does not set {@code NORMKIT_PARALLEL_THRESHOLD}, normkit sets that threshold to
 * {@value #SLEEPING_THREADS_THRESHOLD} values: every parallel region then pays the wake-up, and measured so a second
 * thread only wins from a few million values (batch-norm backward over 2^20 values 196 / 186 us with 1 / 2 sleeping
 * threads, 2^22: 1412 / 1006; inference 2^22: 424 / 491).
 */
public final class NativeRuntime {
  /** The polls an idle OpenMP thread spins before it sleeps, when the environment does not say. */
  public static final String DEFAULT_SPIN_COUNT = "10000";

  /** normkit kernels' parallel threshold (values) when the environment asks for threads that never spin. */
  public static final String SLEEPING_THREADS_THRESHOLD = "4194304";

  private static final String WAIT_POLICY = loadRuntime();

  private NativeRuntime() {}

  /** Ensures the runtime is loaded (idempotent; class initialization does the work once). */
  public static void load() {
    if (WAIT_POLICY == null) throw new IllegalStateException("native runtime not loaded");
  }

  /**
   * The OpenMP wait settings in force, as libgomp read them: {@code OMP_WAIT_POLICY=...} and/or {@code
   * GOMP_SPINCOUNT=...}, space-separated, from the environment or normkit's default.
   */
  public static String waitPolicy() {
    return WAIT_POLICY;
  }

  private static String loadRuntime() {
    if (ProcessEnvironment.getenv("OMP_WAIT_POLICY") == null) {
      ProcessEnvironment.setenv("GOMP_SPINCOUNT", DEFAULT_SPIN_COUNT, 0);
    }
    if (threadsNeverSpin(ProcessEnvironment.getenv("OMP_WAIT_POLICY"), ProcessEnvironment.getenv("GOMP_SPINCOUNT"))) {
      ProcessEnvironment.setenv("NORMKIT_PARALLEL_THRESHOLD", SLEEPING_THREADS_THRESHOLD, 0);
    }
    String settings = describe("OMP_WAIT_POLICY") + describe("GOMP_SPINCOUNT");
    PresetLoader.load();
    return settings.strip();
  }

  /** Whether these settings make idle OpenMP threads sleep at once (libgomp: a spin count of 0). */
  static boolean threadsNeverSpin(String waitPolicy, String spinCount) {
    if (spinCount != null) return spinCount.strip().equals("0");
    return waitPolicy != null && waitPolicy.strip().equalsIgnoreCase("PASSIVE");
  }

  private static String describe(String name) {
    String value = ProcessEnvironment.getenv(name);
    return value == null ? "" : " " + name + "=" + value;
  }
}
