package dev.normkit.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.normkit.backend.kernels.ProcessEnvironment;
import org.junit.jupiter.api.Test;

class NativeRuntimeTest {
  @Test
  void waitPolicyIsTheEnvironmentsOrPassive() {
    NativeRuntime.load();
    String inherited = System.getenv("OMP_WAIT_POLICY"); // the environment the JVM started with
    String expected = inherited != null ? inherited : NativeRuntime.DEFAULT_WAIT_POLICY;
    assertEquals(expected, NativeRuntime.waitPolicy());
    assertEquals(expected, ProcessEnvironment.getenv("OMP_WAIT_POLICY"));
  }
}
