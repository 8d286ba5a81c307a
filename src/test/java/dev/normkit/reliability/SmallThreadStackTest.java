package dev.normkit.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.Backend;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * normkit's first call on a thread with a small stack. Loading the dnnl preset needs more than 512 KB of stack; run on
 * such a thread (as {@code java -Xss512k} makes every thread, main included) it killed the JVM with SIGSEGV before
 * the load moved to a thread of its own (NativeRuntime). The library is already loaded in the test JVM, so the check
 * runs a fresh JVM with {@code -Xss256k}.
 */
class SmallThreadStackTest {
  @Test
  void firstCallOnA256KibStackLoadsAndComputes() throws Exception {
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    Process p = new ProcessBuilder(java, "-Xss256k", "-cp", System.getProperty("java.class.path"),
        SmallStackMain.class.getName())
        .redirectErrorStream(true)
        .start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child JVM did not finish");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), "the child JVM failed (exit " + p.exitValue() + "):\n" + out);
    String[] lines = out.strip().split("\\R");
    String[] fields = lines[lines.length - 1].split(" ");
    assertEquals("ok", fields[0], "unexpected output:\n" + out);
    double[] expected = SmallStackMain.run(Backend.JAVA);
    // sums of 2048 and 1024 absolute values of float outputs, against the double-precision reference
    assertEquals(expected[0], Double.parseDouble(fields[1]), 1e-5 * expected[0], "sum of |batch norm|");
    assertEquals(expected[1], Double.parseDouble(fields[2]), 1e-5 * expected[1], "sum of |StdConv2d|");
  }
}
