package dev.normkit.backend.kernels;

import static dev.normkit.backend.kernels.NormkitLibrary.*;

import dev.normkit.Layout;
import dev.normkit.NativeException;
import dev.normkit.RetainedTensors;
import dev.normkit.Tensor;
import dev.normkit.backend.ThreadPolicy;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * Access to normkit's own kernels ({@code libnormkit.so}) beside the raw binding {@link NormkitLibrary}: status
 * checks that turn a failure into a {@link NativeException}, the instruction-set (ISA) control, and the small
 * conversions every adapter needs.
 */
public final class NormkitKernels {
  private NormkitKernels() {}

  /** The instruction sets the kernels are compiled for; the widest one the CPU supports runs unless capped. */
  public enum Isa {
    SCALAR(NK_ISA_SCALAR),
    AVX2(NK_ISA_AVX2),
    AVX512(NK_ISA_AVX512);

    private final int code;

    Isa(int code) {
      this.code = code;
    }

    static Isa of(int code) {
      for (Isa isa : values()) {
        if (isa.code == code) return isa;
      }
      throw new NativeException("normkit", NK_RUNTIME_ERROR, "unknown ISA code " + code);
    }
  }

  /** Throws {@link NativeException} (library "normkit") unless {@code status} is NK_SUCCESS. */
  public static void check(int status, String what) {
    if (status != NK_SUCCESS) {
      throw new NativeException("normkit", status, "failed to " + what + " (" + nk_status_string(status) + ")");
    }
  }

  /**
   * Throws {@link NativeException} unless {@code status} is NK_SUCCESS; the message (op and shape) is only built on
   * failure, so that a successful call allocates nothing.
   */
  static void check(int status, String op, dev.normkit.Shape shape) {
    if (status != NK_SUCCESS) check(status, "run " + op + " on " + shape);
  }

  /** The library's version, e.g. "0.1.0". */
  public static String version() {
    return nk_version();
  }

  /** The ISA the kernels run with now. */
  public static Isa isa() {
    return Isa.of(nk_get_isa());
  }

  /** The widest ISA the CPU supports. */
  public static Isa cpuIsa() {
    return Isa.of(nk_get_cpu_isa());
  }

  /**
   * Caps the ISA process-wide (to exercise every code path on one machine) and returns the effective one, the
   * smaller of {@code max} and {@link #cpuIsa()}. Not meant to be changed while kernels run on other threads.
   */
  public static Isa setMaxIsa(Isa max) {
    try (IntPointer effective = new IntPointer(1)) {
      check(nk_set_max_isa(max.code, effective), "cap the ISA at " + max);
      return Isa.of(effective.get());
    }
  }

  /** The ISAs this CPU can run, narrowest first. */
  public static List<Isa> supportedIsas() {
    List<Isa> isas = new ArrayList<>();
    for (Isa isa : Isa.values()) {
      if (isa.code <= cpuIsa().code) isas.add(isa);
    }
    return isas;
  }

  /** Sets the calling thread's OpenMP thread count (see {@link dev.normkit.backend.ThreadPolicy}). */
  public static void setNumThreads(int threads) {
    int status = nk_set_num_threads(threads);
    // the message only on failure: this runs whenever a call needs another count than the previous one, which some
    // alternate call by call (a small convolution on one thread beside the normalizations on the requested count)
    if (status != NK_SUCCESS) check(status, "set the number of threads to " + threads);
  }

  /** The calling thread's OpenMP thread count. */
  public static int maxThreads() {
    return nk_get_max_threads();
  }

  /** The streaming probe dst[i] = a * src[i] + b over the first n elements (the benchmarks' yardstick). */
  public static void scaleShift(Tensor src, Tensor dst, long n, float a, float b) {
    if (n > src.elementCount() || n > dst.elementCount()) {
      throw new IllegalArgumentException("scaleShift over " + n + " elements exceeds a tensor of "
          + Math.min(src.elementCount(), dst.elementCount()));
    }
    ThreadPolicy.apply();
    try (RetainedTensors held = RetainedTensors.open()) {
      int status = nk_scale_shift(held.pointer(src), held.pointer(dst), n, a, b);
      if (status != NK_SUCCESS) check(status, "run the streaming probe");
    }
  }

  /**
   * Writes each of {@code n} images of {@code src}, a {@code rows x cols} matrix, transposed into {@code dst}:
   * dst[k][j][i] = src[k][i][j]. An (N, C, S) activation goes from channels-first to channels-last with rows = C and
   * cols = S, and back with rows = S and cols = C. The tensors are used as plain memory (their shapes and layouts
   * are not consulted) and must be distinct.
   */
  public static void transposeImages(Tensor src, Tensor dst, long n, long rows, long cols) {
    if (n < 0 || rows < 0 || cols < 0) {
      throw new IllegalArgumentException("transposeImages needs non-negative dims, got " + n + " x " + rows + " x " + cols);
    }
    long elements = Math.multiplyExact(Math.multiplyExact(n, rows), cols);
    if (elements > src.elementCount() || elements > dst.elementCount()) {
      throw new IllegalArgumentException("transposeImages of " + n + " x " + rows + " x " + cols
          + " elements exceeds a tensor of " + Math.min(src.elementCount(), dst.elementCount()));
    }
    if (src == dst) throw new IllegalArgumentException("transposeImages cannot work in place");
    ThreadPolicy.apply();
    try (RetainedTensors held = RetainedTensors.open()) {
      int status = nk_transpose_images(held.pointer(src), held.pointer(dst), n, rows, cols);
      if (status != NK_SUCCESS) check(status, "transpose " + n + " images of " + rows + " x " + cols);
    }
  }

  /** The nk_layout_t of a tensor's layout. */
  static int layout(Tensor t) {
    return t.layout() == Layout.CHANNELS_LAST ? NK_LAYOUT_CHANNELS_LAST : NK_LAYOUT_CHANNELS_FIRST;
  }
}
