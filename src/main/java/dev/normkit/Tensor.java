package dev.normkit;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A float32 tensor in off-heap memory: a logical {@link Shape} (N, C, *spatial) or a parameter shape, and a memory
 * {@link Layout}.
 *
 * <p>Tensors made by {@link #zeros}, {@link #of} or {@link #copy} own their memory and free it on {@link #close()}
 * (or, if forgotten, once unreachable). Tensors made by {@link #wrap} use memory owned by someone else and never
 * free it. {@code close()} is idempotent; any use after it throws {@link IllegalStateException}.
 *
 * <p>{@code float[]} arrays exchanged with a tensor ({@link #of}, {@link #toArray}, {@link #copyFrom}) are always in
 * logical C order, whatever the layout; {@link #pointer()} and {@link #buffer()} expose the memory order.
 *
 * <p>A tensor is not synchronized: do not write it from one thread while another reads it. Closing it while an
 * operation on another thread uses it is safe: the operation retains it ({@link #retain()}), so the memory is freed
 * when that operation ends, and later uses throw {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {
  private final Shape shape;
  private final Layout layout;
  private final FloatPointer data;
  private final NativeMemory owned;
  private final Object keepAlive;
  private FloatBuffer buffer;
  private volatile boolean closed;

  private Tensor(Shape shape, Layout layout, boolean zero) {
    this.shape = Checks.notNull(shape, "shape");
    this.layout = Checks.notNull(layout, "layout");
    this.owned = NativeMemory.allocate(this, shape.elementCount(), zero);
    this.data = owned.floats();
    this.keepAlive = null;
  }

  private Tensor(Shape shape, Layout layout, FloatPointer data, Object keepAlive) {
    this.shape = shape;
    this.layout = layout;
    this.data = data;
    this.owned = null;
    this.keepAlive = keepAlive;
  }

  /** A new zero-filled tensor. */
  public static Tensor zeros(Shape shape, Layout layout) {
    return new Tensor(shape, layout, true);
  }

  /** A new zero-filled tensor, channels-first. */
  public static Tensor zeros(Shape shape) {
    return zeros(shape, Layout.CHANNELS_FIRST);
  }

  /** A new tensor whose contents are undefined until written (for outputs that an op overwrites whole). */
  public static Tensor empty(Shape shape, Layout layout) {
    return new Tensor(shape, layout, false);
  }

  /** A new tensor holding {@code logical} (in logical C order), laid out as {@code layout}. */
  public static Tensor of(float[] logical, Shape shape, Layout layout) {
    Checks.notNull(logical, "data");
    Checks.notNull(shape, "shape");
    checkLength(logical.length, shape);
    Tensor t = new Tensor(shape, layout, false);
    t.copyFrom(logical);
    return t;
  }

  /** A new channels-first tensor holding {@code logical}. */
  public static Tensor of(float[] logical, Shape shape) {
    return of(logical, shape, Layout.CHANNELS_FIRST);
  }

  /** A new rank-1 tensor holding {@code values}: the form of gamma, beta and running statistics. */
  public static Tensor vector(float... values) {
    Checks.notNull(values, "values");
    return of(values, Shape.of(values.length), Layout.CHANNELS_FIRST);
  }

  /**
   * Wraps existing off-heap memory without copying. {@code memory} starts at its position and must hold the whole
   * tensor in {@code layout}'s memory order. The tensor does not free it; the caller keeps it alive and valid for the
   * tensor's lifetime. Where the pointer knows its extent (its limit, else its capacity, in floats from its address),
   * the tensor must fit between its position and that extent; a pointer of unknown extent (both 0, as JavaCPP gives
   * for memory from native code) is trusted. The memory must be float-aligned (its address a multiple of 4).
   */
  public static Tensor wrap(FloatPointer memory, Shape shape, Layout layout) {
    Checks.notNull(memory, "memory");
    Checks.notNull(shape, "shape");
    Checks.notNull(layout, "layout");
    if (memory.isNull()) throw new IllegalArgumentException("memory is a null pointer");
    if (memory.position() < 0) throw new IllegalArgumentException("memory position is negative: " + memory.position());
    long extent = memory.limit() > 0 ? memory.limit() : memory.capacity();
    if (extent > 0 && extent - memory.position() < shape.elementCount()) {
      throw new IllegalArgumentException("memory holds " + Math.max(0, extent - memory.position())
          + " floats from its position " + memory.position() + ", shape " + shape + " needs " + shape.elementCount());
    }
    long address = memory.address() + memory.position() * Float.BYTES;
    checkFloatAligned(address);
    FloatPointer view = NativeMemory.floatsAt(address, shape.elementCount(), memory);
    return new Tensor(shape, layout, view, memory);
  }

  /**
   * Wraps a direct, writable {@link FloatBuffer} (from its position) without copying. A read-only buffer is refused:
   * ops write their outputs through native pointers that would ignore the flag (copy read-only data with
   * {@link #of} instead). As with a pointer, the memory must be float-aligned.
   */
  public static Tensor wrap(FloatBuffer direct, Shape shape, Layout layout) {
    Checks.notNull(direct, "buffer");
    Checks.notNull(shape, "shape");
    if (!direct.isDirect()) throw new IllegalArgumentException("buffer must be direct");
    // a tensor's memory may be written by any op it is handed to, and nothing would stop a write through its pointer
    if (direct.isReadOnly()) throw new IllegalArgumentException("buffer must be writable, got a read-only buffer");
    if (direct.order() != ByteOrder.nativeOrder()) {
      throw new IllegalArgumentException("buffer must be in native byte order, got " + direct.order());
    }
    if (direct.remaining() < shape.elementCount()) {
      throw new IllegalArgumentException(
          "buffer holds " + direct.remaining() + " floats, shape " + shape + " needs " + shape.elementCount());
    }
    FloatPointer base = new FloatPointer(direct);
    long address = base.address() + (long) direct.position() * Float.BYTES;
    checkFloatAligned(address);
    FloatPointer view = NativeMemory.floatsAt(address, shape.elementCount(), direct);
    return new Tensor(shape, Checks.notNull(layout, "layout"), view, direct);
  }

  /**
   * Wrapped memory must start on a float boundary (an address that is a multiple of 4). A float-misaligned buffer (a
   * byte buffer sliced at an odd offset, say) would reach the kernels' non-temporal stores, which fault on it and so
   * crashed the JVM (instance norm writing a 6.4 MB output into such a buffer).
   */
  private static void checkFloatAligned(long address) {
    if (address % Float.BYTES != 0) {
      throw new IllegalArgumentException("memory at address 0x" + Long.toHexString(address)
          + " is not aligned to a float (a multiple of " + Float.BYTES + " bytes)");
    }
  }

  public Shape shape() {
    return shape;
  }

  public Layout layout() {
    return layout;
  }

  public long elementCount() {
    return shape.elementCount();
  }

  /** Whether this tensor owns (and will free) its memory. */
  public boolean ownsMemory() {
    return owned != null;
  }

  /**
   * The memory, in layout order: a new pointer at the first element on each call (position 0, limit and capacity the
   * element count), which keeps this tensor reachable. Moving its position or limit, as JavaCPP code often does, moves
   * nothing that normkit's own calls see. Native code that uses it past a check of {@link #isClosed()} brackets the
   * use with {@link #retain()} and {@link #release()}.
   */
  public FloatPointer pointer() {
    checkOpen();
    return NativeMemory.floatsAt(data.address(), elementCount(), this);
  }

  /**
   * Starts a use of the memory by native code (or by any code that outlives a check of {@link #isClosed()}); every
   * retain is followed by one {@link #release()}. Until then a {@link #close()} of this tensor, or of the tensor it
   * views, only stops new uses: the memory is freed when the last use ends. normkit's backends retain every tensor of
   * a call, so closing a tensor or a layer while another thread computes with it makes later calls throw
   * {@link IllegalStateException} and never frees memory under a running kernel.
   *
   * @throws IllegalStateException if the tensor is closed
   */
  public void retain() {
    retained();
  }

  /**
   * Ends a use started by {@link #retain()}.
   *
   * @throws IllegalStateException if no use is open (for normkit-allocated memory; wrapped memory is the caller's)
   */
  public void release() {
    NativeMemory block = block();
    if (block != null) block.release();
  }

  /**
   * {@link #retain()}, returning the tensor's own pointer (position 0, never handed out), for {@link RetainedTensors}
   * and this class's copies.
   */
  FloatPointer retained() {
    checkOpen();
    NativeMemory block = block();
    if (block != null && !block.retain()) throw new IllegalStateException("tensor " + shape + " is closed");
    return data;
  }

  /** The address of the first element (for the memory-overlap checks). */
  long address() {
    return data.address();
  }

  /** The block this tensor's memory lives in (its own, or that of the tensor it views), or null for wrapped memory. */
  private NativeMemory block() {
    return owned != null ? owned : keepAlive instanceof Tensor ? ((Tensor) keepAlive).block() : null;
  }

  /**
   * A {@link FloatBuffer} view of the memory, in layout order (index = memory offset). Limited to tensors of at most
   * {@link Integer#MAX_VALUE} elements. The view is valid while this tensor is open and reachable: keep a reference to
   * the tensor for as long as the view is used (the view does not keep it alive, and a forgotten tensor's memory is
   * freed by its Cleaner).
   */
  public FloatBuffer buffer() {
    return sharedView().duplicate().clear();
  }

  /**
   * The tensor's own {@link FloatBuffer} view (created once), for normkit's absolute get/put only: unlike
   * {@link #buffer()}, no new view per call, so per-call bookkeeping such as the running-statistics update allocates
   * nothing. Code that reads or writes through it brackets that with {@link #retain()} and {@link #release()}: a view
   * of native memory references neither the tensor nor its memory block, which could otherwise be freed while the
   * view is still in use (by a close on another thread, or by the Cleaner once the JIT sees no later use of the
   * tensor, e.g. inside {@code op(x).toArray()}).
   */
  FloatBuffer sharedView() {
    checkOpen();
    FloatBuffer b = buffer;
    if (b == null) {
      if (elementCount() > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(
            "tensor of " + elementCount() + " elements is too large for a FloatBuffer view");
      }
      b = data.asBuffer();
      buffer = b;
    }
    return b;
  }

  /** A fresh view of the memory after {@link #retain()}; the caller releases. */
  private FloatBuffer retainedView() {
    retain();
    try {
      return sharedView().duplicate().clear();
    } catch (RuntimeException e) {
      release();
      throw e;
    }
  }

  /** The memory strides of the logical dims. */
  public long[] strides() {
    return layout.strides(shape);
  }

  /** The memory offset of a logical index. */
  public long offset(long... index) {
    Checks.notNull(index, "index");
    if (index.length != shape.rank()) {
      throw new IllegalArgumentException("index has " + index.length + " dims, tensor has rank " + shape.rank());
    }
    long[] strides = strides();
    long off = 0;
    for (int i = 0; i < index.length; i++) {
      if (index[i] < 0 || index[i] >= shape.dim(i)) {
        throw new IllegalArgumentException("index " + index[i] + " out of range for dim " + i + " of " + shape);
      }
      off += index[i] * strides[i];
    }
    return off;
  }

  /** The value at a logical index. */
  public float get(long... index) {
    long at = offset(index);
    FloatPointer memory = retained();
    try {
      return memory.get(at);
    } finally {
      release();
    }
  }

  /** Sets the value at a logical index. */
  public void set(float value, long... index) {
    long at = offset(index);
    FloatPointer memory = retained();
    try {
      memory.put(at, value);
    } finally {
      release();
    }
  }

  /** Fills every element with {@code value}. */
  public void fill(float value) {
    FloatBuffer b = retainedView();
    try {
      for (int i = 0, n = b.capacity(); i < n; i++) b.put(i, value);
    } finally {
      release();
    }
  }

  /** The contents in logical C order. */
  public float[] toArray() {
    float[] out = new float[checkedArrayLength()];
    copyTo(out);
    return out;
  }

  /** Copies the contents, in logical C order, into {@code logical}. */
  public void copyTo(float[] logical) {
    Checks.notNull(logical, "array");
    checkLength(logical.length, shape);
    FloatBuffer b = retainedView();
    try {
      if (isMemoryInLogicalOrder()) {
        b.get(logical);
        return;
      }
      long n = shape.batch(), c = shape.channels(), s = shape.spatialSize();
      int i = 0;
      for (long in = 0; in < n; in++) {
        for (long ic = 0; ic < c; ic++) {
          for (long is = 0; is < s; is++) logical[i++] = b.get((int) ((in * s + is) * c + ic));
        }
      }
    } finally {
      release();
    }
  }

  /** Overwrites the contents with {@code logical} (logical C order). */
  public void copyFrom(float[] logical) {
    Checks.notNull(logical, "array");
    checkLength(logical.length, shape);
    FloatBuffer b = retainedView();
    try {
      if (isMemoryInLogicalOrder()) {
        b.put(logical);
        return;
      }
      long n = shape.batch(), c = shape.channels(), s = shape.spatialSize();
      int i = 0;
      for (long in = 0; in < n; in++) {
        for (long ic = 0; ic < c; ic++) {
          for (long is = 0; is < s; is++) b.put((int) ((in * s + is) * c + ic), logical[i++]);
        }
      }
    } finally {
      release();
    }
  }

  /** Copies {@code other}'s contents (same shape, any layout) into this tensor; their memory may overlap. */
  public void copyFrom(Tensor other) {
    Checks.shape(other, shape, "source");
    checkOpen();
    if (other.layout == layout || isMemoryInLogicalOrder() && other.isMemoryInLogicalOrder()) {
      try (RetainedTensors held = RetainedTensors.open()) {
        // memmove: the two tensors may be views of overlapping memory (memcpy would be undefined there)
        Pointer.memmove(held.pointer(this), held.pointer(other), elementCount() * Float.BYTES);
      }
    } else {
      copyFrom(other.toArray());
    }
  }

  /** A new tensor with the same contents in {@code target} layout. */
  public Tensor to(Layout target) {
    checkOpen();
    Tensor t = empty(shape, target);
    t.copyFrom(this);
    return t;
  }

  /** A new tensor with the same contents and layout. */
  public Tensor copy() {
    return to(layout);
  }

  /** A view of the same memory with another shape of the same element count; memory order is kept as is. */
  public Tensor reshapeMemory(Shape newShape, Layout newLayout) {
    checkOpen();
    Checks.notNull(newShape, "shape");
    Checks.notNull(newLayout, "layout");
    if (newShape.elementCount() != elementCount()) {
      throw new IllegalArgumentException("cannot view " + shape + " as " + newShape);
    }
    return new Tensor(newShape, newLayout, data, this);
  }

  /** True when the memory order equals logical C order (channels-first, or a shape where layouts coincide). */
  public boolean isMemoryInLogicalOrder() {
    return layout == Layout.CHANNELS_FIRST || Layout.layoutsCoincide(shape);
  }

  public boolean isClosed() {
    return closed || (keepAlive instanceof Tensor && ((Tensor) keepAlive).isClosed());
  }

  /** Throws {@link IllegalStateException} if this tensor has been closed. */
  public void checkOpen() {
    if (isClosed()) throw new IllegalStateException("tensor " + shape + " is closed");
  }

  /** Frees owned memory; idempotent. A wrapped tensor only becomes unusable. */
  @Override
  public void close() {
    closed = true;
    buffer = null;
    if (owned != null) owned.close();
  }

  @Override
  public String toString() {
    return "Tensor" + shape + " " + layout + (closed ? " (closed)" : "");
  }

  /** Bytes of tensor memory normkit has allocated and not yet freed, process-wide (for leak checks). */
  public static long liveNativeBytes() {
    return NativeMemory.liveBytes();
  }

  private int checkedArrayLength() {
    if (elementCount() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("tensor of " + elementCount() + " elements does not fit a Java array");
    }
    return (int) elementCount();
  }

  private static void checkLength(int length, Shape shape) {
    if (length != shape.elementCount()) {
      throw new IllegalArgumentException(
          "array has " + length + " elements, shape " + shape + " needs " + shape.elementCount());
    }
  }
}
