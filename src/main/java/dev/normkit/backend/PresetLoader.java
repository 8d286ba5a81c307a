package dev.normkit.backend;

import org.bytedeco.javacpp.Loader;

/**
 * Loads the dnnl preset (libgomp.so.1, libdnnl.so.3 and its JNI library) on a thread of its own with a large stack.
 * The initialization of the preset's JNI library needs more stack than some Java threads have: on a thread of 512 KB,
 * a common {@code -Xss} for servers with many threads, the JVM died with SIGSEGV ({@code java -Xss512k -jar
 * normkit.jar demo}); 640 KB was enough. Whatever thread makes normkit's first call, the load runs here with
 * {@link #STACK_BYTES}.
 *
 * <p>A class of its own, used from {@link NativeRuntime}'s initializer: the loading thread must not run code of a
 * class whose initialization the waiting thread holds (a lambda in NativeRuntime would wait for NativeRuntime's
 * initialization, which waits for the loading thread).
 */
final class PresetLoader implements Runnable {
  static final long STACK_BYTES = 16L << 20;

  private Throwable failure;

  private PresetLoader() {}

  /** Loads the preset on a new thread and waits for it; rethrows what the load threw. */
  static void load() {
    PresetLoader task = new PresetLoader();
    Thread loader = new Thread(null, task, "normkit-native-loader", STACK_BYTES);
    loader.setDaemon(true);
    loader.start();
    boolean interrupted = false;
    while (loader.isAlive()) {
      try {
        loader.join();
      } catch (InterruptedException e) {
        interrupted = true; // a load cannot be abandoned half-way: finish it, then restore the interrupt
      }
    }
    if (interrupted) Thread.currentThread().interrupt();
    if (task.failure instanceof RuntimeException) throw (RuntimeException) task.failure;
    if (task.failure instanceof Error) throw (Error) task.failure;
    if (task.failure != null) throw new IllegalStateException("loading the dnnl preset failed", task.failure);
  }

  @Override
  public void run() {
    try {
      Loader.load(org.bytedeco.dnnl.global.dnnl.class);
    } catch (Throwable t) {
      failure = t;
    }
  }
}
