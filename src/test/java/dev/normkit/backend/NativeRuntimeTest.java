package dev.normkit.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
