package dev.normkit.backend.dnnl;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Layout;
import dev.normkit.RetainedTensors;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ThreadPolicy;
import dev.normkit.backend.kernels.NormkitKernels;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * A created oneDNN primitive with a fixed list of execution arguments, executable from many threads at once.
 *
 * <p>Each concurrent execution takes a {@link Binding} from a pool: its own stream, one {@code dnnl_memory} per
 * argument (pointed at the caller's buffers with {@code dnnl_memory_set_data_handle}) and its own scratchpad
 * (primitives are created with a user-managed scratchpad). A call therefore allocates nothing native once the pool
 * is warm, and two threads never share mutable oneDNN state.
 *
 * <p>Lifetime: the {@link PrimitiveCache} retains a primitive while a caller uses it and retires it on eviction; the
 * native objects are destroyed when a retired primitive is no longer in use.
 */
public final class DnnlPrimitive {
  private final String name;
  private final String implementation;
  private final int[] args;
  private final dnnl_memory_desc[] argDescs;
  private final dnnl_memory_desc scratchpadDesc;
  private final long scratchpadBytes;
  private final dnnl_primitive primitive;
  /** The OpenMP thread count the primitive was created under; it is always executed under the same. */
  private final int threads;
  private final ReusePool<Binding> pool = new ReusePool<>();
  /** Borrowed buffers, one pool per argument position. */
  private final ReusePool<Tensor>[] buffers;
  private int users;
  private boolean retired;
  private boolean destroyed;

  /**
   * Creates the primitive of {@code pd} (which must have been made with {@link Dnnl#userScratchpadAttr()}) with the
   * execution arguments {@code args}, in the order {@link #execute} receives their buffers. Destroys {@code pd}.
   */
  public static DnnlPrimitive create(String name, dnnl_primitive_desc pd, int... args) {
    try {
      return new DnnlPrimitive(name, pd, args);
    } finally {
      dnnl_primitive_desc_destroy(pd);
    }
  }

  @SuppressWarnings("unchecked")
  private DnnlPrimitive(String name, dnnl_primitive_desc pd, int[] args) {
    this.name = name;
    this.args = args.clone();
    this.buffers = (ReusePool<Tensor>[]) new ReusePool<?>[args.length];
    for (int i = 0; i < args.length; i++) buffers[i] = new ReusePool<>();
    this.argDescs = new dnnl_memory_desc[args.length];
    for (int i = 0; i < args.length; i++) argDescs[i] = cloneDesc(dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, args[i]));
    this.scratchpadDesc = cloneDesc(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
    this.scratchpadBytes = dnnl_memory_desc_get_size(scratchpadDesc);
    this.implementation = implementationName(pd);
    dnnl_primitive p = new dnnl_primitive();
    this.threads = NormkitKernels.maxThreads();
    check(dnnl_primitive_create(p, pd), "create the " + name + " primitive");
    this.primitive = p;
  }

  /** The kernel oneDNN chose, e.g. {@code bnorm_jit:avx512_core}. */
  public String implementation() {
    return implementation;
  }

  public String name() {
    return name;
  }

  /** The size in bytes of the buffer the argument at {@code position} (in creation order) takes. */
  long argumentBytes(int position) {
    return dnnl_memory_desc_get_size(argDescs[position]);
  }

  /**
   * A buffer for the argument at {@code position} ({@link #argumentBytes} bytes, 64-byte aligned), from this
   * primitive's pool for that position or new: for an intermediate (a weight reordered into oneDNN's format, a
   * channels-last copy of an activation) that the caller needs only during one use of the primitive. Give it back
   * with {@link #recycle} before {@link #release()}; the pools' buffers are freed with the primitive.
   */
  Tensor borrowBuffer(int position) {
    Tensor t = buffers[position].poll();
    return t != null ? t : bytes(argumentBytes(position));
  }

  /** A tensor of at least {@code bytes} bytes (64-byte aligned, as every tensor), for oneDNN's own formats. */
  private static Tensor bytes(long bytes) {
    return Tensor.empty(Shape.of((bytes + Float.BYTES - 1) / Float.BYTES), Layout.CHANNELS_FIRST);
  }

  /**
   * Returns a buffer borrowed for the argument at {@code position} to its pool (freed now if the primitive is already
   * destroyed).
   */
  synchronized void recycle(int position, Tensor buffer) {
    if (destroyed) buffer.close();
    else buffers[position].offer(buffer);
  }

  /**
   * Runs the primitive on the tensors' memory, one per argument in creation order (null tensors excluded by the
   * caller), and waits for it. Tensors must match the argument descriptors (the callers' validation guarantees it).
   */
  public void execute(Tensor... tensors) {
    requireArguments(tensors.length);
    Binding b = take();
    try (RetainedTensors held = RetainedTensors.open()) {
      for (int i = 0; i < tensors.length; i++) bind(b, i, held.pointer(tensors[i]));
      run(b);
    } finally {
      pool.offer(b);
    }
  }

  /** As {@link #execute(Tensor...)} for two arguments, without an argument array (no allocation per call). */
  public void execute(Tensor a, Tensor b) {
    execute(2, a, b, null, null);
  }

  /** As {@link #execute(Tensor...)} for three arguments, without an argument array. */
  public void execute(Tensor a, Tensor b, Tensor c) {
    execute(3, a, b, c, null);
  }

  /** As {@link #execute(Tensor...)} for four arguments, without an argument array. */
  public void execute(Tensor a, Tensor b, Tensor c, Tensor d) {
    execute(4, a, b, c, d);
  }

  private void execute(int count, Tensor a, Tensor b, Tensor c, Tensor d) {
    requireArguments(count);
    Binding binding = take();
    try (RetainedTensors held = RetainedTensors.open()) {
      bind(binding, 0, held.pointer(a));
      bind(binding, 1, held.pointer(b));
      if (count > 2) bind(binding, 2, held.pointer(c));
      if (count > 3) bind(binding, 3, held.pointer(d));
      run(binding);
    } finally {
      pool.offer(binding);
    }
  }

  private void requireArguments(int count) {
    if (count != args.length) {
      throw new IllegalArgumentException(name + " takes " + args.length + " buffers, got " + count);
    }
  }

  /** A binding from the pool, or a new one; under this primitive's thread count. */
  private Binding take() {
    ThreadPolicy.apply(threads);
    Binding b = pool.poll();
    return b != null ? b : new Binding();
  }

  private void bind(Binding b, int i, Pointer buffer) {
    int status = dnnl_memory_set_data_handle(b.memories[i], buffer);
    if (status != dnnl_success) check(status, "bind argument " + i + " of " + name);
  }

  private void run(Binding b) {
    int status = dnnl_primitive_execute(primitive, b.stream, b.count, b.execArgs);
    if (status == dnnl_success) status = dnnl_stream_wait(b.stream);
    if (status != dnnl_success) check(status, "execute " + name);
  }

  synchronized void retain() {
    if (destroyed) throw new IllegalStateException(name + " primitive already destroyed");
    users++;
  }

  /** Ends one use; destroys the native objects if the primitive was retired and this was the last use. */
  public synchronized void release() {
    users--;
    if (retired && users == 0) destroy();
  }

  synchronized void retire() {
    retired = true;
    if (users == 0) destroy();
  }

  private void destroy() {
    if (destroyed) return;
    destroyed = true;
    Binding b;
    while ((b = pool.poll()) != null) b.destroy();
    for (ReusePool<Tensor> pool : buffers) {
      Tensor t;
      while ((t = pool.poll()) != null) t.close();
    }
    dnnl_primitive_destroy(primitive);
    Dnnl.destroy(argDescs);
    Dnnl.destroy(scratchpadDesc);
  }

  private static dnnl_memory_desc cloneDesc(dnnl_memory_desc queried) {
    dnnl_memory_desc copy = new dnnl_memory_desc();
    check(dnnl_memory_desc_clone(copy, queried), "clone a memory descriptor");
    return copy;
  }

  private static String implementationName(dnnl_primitive_desc pd) {
    PointerPointer<BytePointer> out = new PointerPointer<>(1);
    try {
      if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, out) != dnnl_success) return "?";
      BytePointer s = out.get(BytePointer.class, 0);
      return s == null || s.isNull() ? "?" : s.getString();
    } finally {
      out.close();
    }
  }

  /** One execution context: a stream, a memory object per argument, the exec-arg array, a scratchpad. */
  private final class Binding {
    final dnnl_stream stream = new dnnl_stream();
    final dnnl_memory[] memories = new dnnl_memory[args.length];
    final int count = args.length + (scratchpadBytes > 0 ? 1 : 0);
    final dnnl_exec_arg_t execArgs = new dnnl_exec_arg_t(count);
    final Tensor scratchpad;
    final dnnl_memory scratchpadMemory;

    Binding() {
      check(dnnl_stream_create(stream, Dnnl.engine(), dnnl_stream_default_flags), "create a stream");
      for (int i = 0; i < args.length; i++) {
        memories[i] = new dnnl_memory();
        check(dnnl_memory_create(memories[i], argDescs[i], Dnnl.engine(), null), "create a memory object");
        execArgs.position(i).arg(args[i]).memory(memories[i]);
      }
      if (scratchpadBytes > 0) {
        scratchpad = bytes(scratchpadBytes);
        scratchpadMemory = new dnnl_memory();
        check(
            dnnl_memory_create(scratchpadMemory, scratchpadDesc, Dnnl.engine(), scratchpad.pointer()),
            "create the scratchpad");
        execArgs.position(args.length).arg(DNNL_ARG_SCRATCHPAD).memory(scratchpadMemory);
      } else {
        scratchpad = null;
        scratchpadMemory = null;
      }
      execArgs.position(0);
    }

    void destroy() {
      for (dnnl_memory m : memories) dnnl_memory_destroy(m);
      if (scratchpadMemory != null) dnnl_memory_destroy(scratchpadMemory);
      if (scratchpad != null) scratchpad.close();
      dnnl_stream_destroy(stream);
      execArgs.close();
    }
  }
}
