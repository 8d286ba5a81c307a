package dev.normkit;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A 64-byte aligned block of off-heap floats, freed deterministically by {@link #close()} or, if its owner is
 * forgotten, by a {@link Cleaner} once the owner is unreachable. Both paths free exactly once.
 *
 * <p>Operations that read or write the block bracket their use with {@link #retain()} and {@link #release()}. A
 * {@link #close()} during such a use (from another thread) closes the block to new uses at once and frees it when the
 * last use is released, so that closing a tensor, or the layer that owns it, while another thread computes with it
 * never frees memory under running native code.
 */
final class NativeMemory implements AutoCloseable {
  /** Cache-line (and AVX-512 vector) alignment of every tensor. */
  static final int ALIGNMENT = 64;

  private static final Cleaner CLEANER = Cleaner.create();
  private static final AtomicLong LIVE_BYTES = new AtomicLong();
  private static final AtomicLong LIVE_BLOCKS = new AtomicLong();

  /** Set in {@link #state} once closed; the bits below count the uses in progress. */
  private static final int CLOSED = 1 << 30;

  private final FloatPointer aligned;
  private final Cleaner.Cleanable cleanable;
  private final AtomicInteger state = new AtomicInteger();

  private NativeMemory(Object owner, long floats, boolean zero) {
    long bytes = floats * Float.BYTES + ALIGNMENT;
    Pointer raw = Pointer.malloc(bytes);
    if (raw == null || raw.isNull()) {
      throw new OutOfMemoryError("cannot allocate " + bytes + " bytes of native memory for a tensor");
    }
    long misalignment = raw.address() % ALIGNMENT;
    long offset = misalignment == 0 ? 0 : ALIGNMENT - misalignment;
    this.aligned = floatsAt(raw.address() + offset, floats, owner);
    if (zero && floats > 0) Pointer.memset(aligned, 0, floats * Float.BYTES);
    Release release = new Release(raw, bytes);
    this.cleanable = CLEANER.register(owner, release);
    LIVE_BYTES.addAndGet(bytes);
    LIVE_BLOCKS.incrementAndGet();
  }

  /**
   * A float pointer at {@code address} (position 0) covering {@code count} floats. It frees nothing, but it keeps
   * {@code owner} (what owns or keeps the memory valid: the tensor, or a wrapped buffer) reachable. A native call
   * holds its pointer arguments as JNI local references, which the garbage collector treats as roots until the call
   * returns; the tensor itself may already be unreachable by then (the JIT drops a local after its last use), and
   * without this link the Cleaner could free the memory while native code reads it.
   */
  static FloatPointer floatsAt(long at, long count, Object owner) {
    // inside the anonymous class a plain "address" would name Pointer's field, hence "at"
    Pointer p =
        new Pointer() {
          {
            this.address = at;
          }
        };
    FloatPointer f = new OwnerLinkedFloatPointer(p, owner);
    return f.position(0).capacity(count).limit(count);
  }

  /** A float pointer that references the owner of its memory (see {@link #floatsAt}). */
  private static final class OwnerLinkedFloatPointer extends FloatPointer {
    @SuppressWarnings("unused") // read by nobody: the reference itself is the point
    private final Object owner;

    OwnerLinkedFloatPointer(Pointer p, Object owner) {
      super(p);
      this.owner = owner;
    }
  }

  /** Allocates {@code floats} floats for {@code owner}; zero-filled when {@code zero}. */
  static NativeMemory allocate(Object owner, long floats, boolean zero) {
    return new NativeMemory(owner, floats, zero);
  }

  /** The aligned floats; valid until {@link #close()}. */
  FloatPointer floats() {
    return aligned;
  }

  /** Starts a use of the block: false (and nothing to release) if it is closed. */
  boolean retain() {
    for (;;) {
      int s = state.get();
      if ((s & CLOSED) != 0) return false;
      if (state.compareAndSet(s, s + 1)) return true;
    }
  }

  /** Ends a use that {@link #retain()} started; the last use of a closed block frees it. */
  void release() {
    for (;;) {
      int s = state.get();
      if ((s & ~CLOSED) == 0) throw new IllegalStateException("release() without a matching retain()");
      if (state.compareAndSet(s, s - 1)) {
        if (s - 1 == CLOSED) cleanable.clean();
        return;
      }
    }
  }

  /** Closes the block to new uses; frees it now, or when the uses in progress end. Idempotent. */
  @Override
  public void close() {
    for (;;) {
      int s = state.get();
      if ((s & CLOSED) != 0) return;
      if (state.compareAndSet(s, s | CLOSED)) {
        if (s == 0) cleanable.clean();
        return;
      }
    }
  }

  /** Bytes of tensor memory currently allocated and not yet freed, process-wide. */
  static long liveBytes() {
    return LIVE_BYTES.get();
  }

  /** Blocks of tensor memory currently allocated and not yet freed, process-wide. */
  static long liveBlocks() {
    return LIVE_BLOCKS.get();
  }

  /** The free action: must not refer to the owner, or the owner would never become unreachable. */
  private static final class Release implements Runnable {
    private final Pointer raw;
    private final long bytes;

    Release(Pointer raw, long bytes) {
      this.raw = raw;
      this.bytes = bytes;
    }

    @Override
    public void run() {
      Pointer.free(raw);
      LIVE_BYTES.addAndGet(-bytes);
      LIVE_BLOCKS.decrementAndGet();
    }
  }
}
