package dev.normkit.backend.dnnl;

import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.NativeException;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive_attr;

/**
 * The process-wide oneDNN CPU engine and small helpers around oneDNN's C API: status checks and memory
 * descriptors built from a tensor's shape and layout.
 */
public final class Dnnl {
  private static final dnnl_engine ENGINE;

  static {
    dev.normkit.backend.NativeRuntime.load();
    dnnl_engine engine = new dnnl_engine();
    check(dnnl_engine_create(engine, dnnl_cpu, 0), "create the CPU engine");
    ENGINE = engine;
  }

  private Dnnl() {}

  /** The CPU engine; lives as long as the process. */
  public static dnnl_engine engine() {
    return ENGINE;
  }

  /** Throws {@link NativeException} unless {@code status} is dnnl_success. */
  public static void check(int status, String what) {
    if (status != dnnl_success) {
      throw new NativeException("oneDNN", status, "failed to " + what + " (" + statusName(status) + ")");
    }
  }

  static String statusName(int status) {
    if (status == dnnl_out_of_memory) return "out of memory";
    if (status == dnnl_invalid_arguments) return "invalid arguments";
    if (status == dnnl_unimplemented) return "unimplemented";
    if (status == dnnl_last_impl_reached) return "last implementation reached";
    if (status == dnnl_runtime_error) return "runtime error";
    if (status == dnnl_not_required) return "not required";
    return "status " + status;
  }

  /** A float32 memory descriptor for {@code t}'s shape and layout (the caller destroys it). */
  public static dnnl_memory_desc memoryDesc(Tensor t) {
    return memoryDesc(t.shape(), t.strides());
  }

  /** A float32 memory descriptor with explicit strides (the caller destroys it). */
  public static dnnl_memory_desc memoryDesc(Shape shape, long[] strides) {
    dnnl_memory_desc md = new dnnl_memory_desc();
    check(
        dnnl_memory_desc_create_with_strides(md, shape.rank(), shape.dims(), dnnl_f32, strides),
        "create a memory descriptor for " + shape);
    return md;
  }

  /** A dense 1-D float32 memory descriptor of {@code n} elements (the caller destroys it). */
  public static dnnl_memory_desc vectorDesc(long n) {
    return memoryDesc(Shape.of(n), new long[] {1});
  }

  /** Primitive attributes with a user-managed scratchpad, so that concurrent executions never share one. */
  static dnnl_primitive_attr userScratchpadAttr() {
    dnnl_primitive_attr attr = new dnnl_primitive_attr();
    check(dnnl_primitive_attr_create(attr), "create primitive attributes");
    check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set the scratchpad mode");
    return attr;
  }

  /** Destroys memory descriptors, ignoring nulls. */
  static void destroy(dnnl_memory_desc... mds) {
    for (dnnl_memory_desc md : mds) {
      if (md != null && !md.isNull()) dnnl_memory_desc_destroy(md);
    }
  }
}
