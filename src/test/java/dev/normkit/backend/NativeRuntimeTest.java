package dev.normkit.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.backend.kernels.ProcessEnvironment;
import org.junit.jupiter.api.Test;

class NativeRuntimeTest {
  @Test
  void spinCountIsTheEnvironmentsOrTheDefaultUnlessAWaitPolicyIsGiven() {
    NativeRuntime.load();
    // the environment the JVM started with
    String policy = System.getenv("OMP_WAIT_POLICY");
    String spin = System.getenv("GOMP_SPINCOUNT");
    String expectedSpin = spin != null ? spin : policy == null ? NativeRuntime.DEFAULT_SPIN_COUNT : null;
    assertEquals(expectedSpin, ProcessEnvironment.getenv("GOMP_SPINCOUNT"));
    assertEquals(policy, ProcessEnvironment.getenv("OMP_WAIT_POLICY"));
    String expected =
        ((policy == null ? "" : "OMP_WAIT_POLICY=" + policy)
                + (expectedSpin == null ? "" : " GOMP_SPINCOUNT=" + expectedSpin))
            .strip();
    assertEquals(expected, NativeRuntime.waitPolicy());
  }

  @Test
  void threadsNeverSpinOnlyForPassiveWithoutSpinCountOrSpinCountZero() {
    assertTrue(NativeRuntime.threadsNeverSpin("PASSIVE", null));
    assertTrue(NativeRuntime.threadsNeverSpin("passive", null));
    assertTrue(NativeRuntime.threadsNeverSpin(null, "0"));
    assertTrue(NativeRuntime.threadsNeverSpin("ACTIVE", "0"));
    assertFalse(NativeRuntime.threadsNeverSpin("PASSIVE", "10000"));
    assertFalse(NativeRuntime.threadsNeverSpin("ACTIVE", null));
    assertFalse(NativeRuntime.threadsNeverSpin(null, null));
    assertFalse(NativeRuntime.threadsNeverSpin(null, "10000"));
  }

  @Test
  void sleepingThreadsRaiseTheKernelThresholdUnlessTheEnvironmentSetsIt() {
    NativeRuntime.load();
    String inherited = System.getenv("NORMKIT_PARALLEL_THRESHOLD");
    boolean sleeping =
        NativeRuntime.threadsNeverSpin(System.getenv("OMP_WAIT_POLICY"), System.getenv("GOMP_SPINCOUNT"));
    String expected = inherited != null ? inherited : sleeping ? NativeRuntime.SLEEPING_THREADS_THRESHOLD : null;
    assertEquals(expected, ProcessEnvironment.getenv("NORMKIT_PARALLEL_THRESHOLD"));
  }
}
