package dev.normkit.backend.dnnl;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * Copies a tensor into another of the same logical shape and a different memory layout with oneDNN's {@code reorder}
 * primitive: dst[index] = src[index] for every logical index. The primitive is cached per (shape, from, to).
 */
final class DnnlReorder {
  /** What a reorder primitive depends on. */
  private record Key(Shape shape, Layout from, Layout to) {}

  private DnnlReorder() {}

  /** Writes {@code src}'s values into {@code dst} (same shape), converting the memory layout. */
  static void copy(Tensor src, Tensor dst) {
    Key key = new Key(src.shape(), src.layout(), dst.layout());
    PrimitiveCache.execute(key, () -> create(key), src, dst);
  }

  /** A new tensor holding {@code src}'s values in {@code layout}; the caller closes it. */
  static Tensor toLayout(Tensor src, Layout layout) {
    Tensor dst = Tensor.empty(src.shape(), layout);
    try {
      copy(src, dst);
      return dst;
    } catch (RuntimeException | Error e) {
      dst.close();
      throw e;
    }
  }

  private static DnnlPrimitive create(Key key) {
    dnnl_memory_desc from = Dnnl.memoryDesc(key.shape, key.from.strides(key.shape));
    dnnl_memory_desc to = Dnnl.memoryDesc(key.shape, key.to.strides(key.shape));
    try {
      return create(from, to, key.shape + " from " + key.from + " to " + key.to);
    } finally {
      Dnnl.destroy(from, to);
    }
  }

  /** A reorder primitive from {@code from} to {@code to} (same logical dims), arguments (FROM, TO). */
  static DnnlPrimitive create(dnnl_memory_desc from, dnnl_memory_desc to, String what) {
    dnnl_primitive_attr attr = Dnnl.userScratchpadAttr();
    try {
      dnnl_primitive_desc pd = new dnnl_primitive_desc();
      check(
          dnnl_reorder_primitive_desc_create(pd, from, Dnnl.engine(), to, Dnnl.engine(), attr),
          "create a reorder descriptor for " + what);
      return DnnlPrimitive.create("reorder", pd, DNNL_ARG_FROM, DNNL_ARG_TO);
    } finally {
      dnnl_primitive_attr_destroy(attr);
    }
  }
}
