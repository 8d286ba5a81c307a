package dev.normkit.backend.kernels;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;

/**
 * The C library's {@code setenv}/{@code getenv}, bound by JavaCPP: the only way for a Java process to set an
 * environment variable that a native library reads when it is loaded (as libgomp reads {@code OMP_WAIT_POLICY}).
 * Its JNI library links nothing but libc, so loading it loads no OpenMP runtime.
 */
@Properties(
    target = "dev.normkit.backend.kernels.ProcessEnvironment",
    value = @Platform(value = "linux-x86_64", include = "stdlib.h"))
public final class ProcessEnvironment {
  static {
    Loader.load();
  }

  private ProcessEnvironment() {}

  /** setenv(3): 0 on success. With {@code overwrite} 0 an existing value is kept. */
  public static native int setenv(String name, String value, int overwrite);

  /** getenv(3): the value in the process environment now, or null. */
  public static native String getenv(String name);
}
