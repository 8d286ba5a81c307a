package dev.normkit;

import org.bytedeco.javacpp.FloatPointer;

/**
 * The tensors one operation hands to native code, each {@linkplain Tensor#retain() retained} until the operation ends:
 *
 * <pre>
 *   try (RetainedTensors held = RetainedTensors.open()) {
 *     kernel(held.pointer(x), held.pointer(y), held.pointer(gamma), ...);   // gamma may be null
 *   }
 * </pre>
 *
 * A close of any of them from another thread meanwhile frees nothing until the operation is done, and a tensor that is
 * otherwise unreachable stays reachable until then. One instance per thread is reused (scopes may nest), so an
 * operation allocates nothing.
 */
public final class RetainedTensors implements AutoCloseable {
  private static final int MAX_TENSORS = 32;
  private static final int MAX_DEPTH = 8;
  private static final ThreadLocal<RetainedTensors> PER_THREAD = ThreadLocal.withInitial(RetainedTensors::new);

  private final Tensor[] tensors = new Tensor[MAX_TENSORS];
  private final int[] scopeStarts = new int[MAX_DEPTH];
  private int count;
  private int depth;

  private RetainedTensors() {}

  /** Opens a scope on the calling thread's instance; close it (try-with-resources) when the operation ends. */
  public static RetainedTensors open() {
    RetainedTensors r = PER_THREAD.get();
    if (r.depth == MAX_DEPTH) throw new IllegalStateException("more than " + MAX_DEPTH + " nested native operations");
    r.scopeStarts[r.depth++] = r.count;
    return r;
  }

  /**
   * Retains {@code t} for this scope and returns its memory ({@link Tensor#retain()}: the tensor's own pointer, at
   * position 0 whatever a caller did with one from {@link Tensor#pointer()}); null for an absent (optional) tensor.
   *
   * @throws IllegalStateException if t is closed
   */
  public FloatPointer pointer(Tensor t) {
    if (t == null) return null;
    if (count == MAX_TENSORS) throw new IllegalStateException("more than " + MAX_TENSORS + " tensors in one operation");
    FloatPointer memory = t.retained();
    tensors[count++] = t;
    return memory;
  }

  /** Releases the tensors retained since this scope was opened, last first. */
  @Override
  public void close() {
    int start = scopeStarts[--depth];
    while (count > start) {
      Tensor t = tensors[--count];
      tensors[count] = null;
      t.release();
    }
  }
}
