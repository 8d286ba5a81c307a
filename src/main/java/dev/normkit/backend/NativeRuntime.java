package dev.normkit.backend;

import dev.normkit.backend.kernels.ProcessEnvironment;
import org.bytedeco.javacpp.Loader;

/**
 * Loads the native runtime once: first the OpenMP settings that libgomp only reads when it is loaded, then the
 * dnnl preset (libgomp.so.1 and libdnnl.so.3 from its jar), which normkit's own kernels share.
 *
 * <p>OpenMP wait policy: unless the process already has {@code OMP_WAIT_POLICY} in its environment, normkit sets it to
 * {@value #DEFAULT_WAIT_POLICY} (threads sleep between parallel regions instead of spinning). Measured on these
 * 2-core machines (README, Performance): spinning threads compete with the JVM's own threads and with any other
 * process for the two cores, and a team of two then waits for a descheduled member a whole scheduler tick; the
 * passive policy loses nothing on the large shapes and is several times faster under load. Set OMP_WAIT_POLICY
 * (ACTIVE or PASSIVE) in the environment to choose otherwise.
 */
public final class NativeRuntime {
  /** The OpenMP wait policy normkit asks for when the environment does not say. */
  public static final String DEFAULT_WAIT_POLICY = "PASSIVE";

  private static final String WAIT_POLICY = loadRuntime();

  private NativeRuntime() {}

  /** Ensures the runtime is loaded (idempotent; class initialization does the work once). */
  public static void load() {
    if (WAIT_POLICY == null) throw new IllegalStateException("native runtime not loaded");
  }

  /** The OpenMP wait policy in force: the environment's, or {@link #DEFAULT_WAIT_POLICY}. */
  public static String waitPolicy() {
    return WAIT_POLICY;
  }

  private static String loadRuntime() {
    ProcessEnvironment.setenv("OMP_WAIT_POLICY", DEFAULT_WAIT_POLICY, 0);
    String policy = ProcessEnvironment.getenv("OMP_WAIT_POLICY");
    Loader.load(org.bytedeco.dnnl.global.dnnl.class);
    return policy == null ? "" : policy;
  }
}
