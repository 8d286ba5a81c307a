package dev.normkit.bench;

import static dev.normkit.backend.dnnl.Dnnl.check;
import static org.bytedeco.dnnl.global.dnnl.*;

import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.dnnl.Dnnl;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;

/**
 * The yardstick for the API's per-call overhead on oneDNN: a layer-norm forward primitive on rows (M, D) created
 * once, its memory objects bound once to fixed tensors, and then nothing per call but {@code dnnl_primitive_execute}
 * and {@code dnnl_stream_wait}, as a user calling oneDNN's C API by hand would do at best.
 */
final class BareLayerNorm implements AutoCloseable {
  private final dnnl_primitive primitive = new dnnl_primitive();
  private final dnnl_stream stream = new dnnl_stream();
  private final dnnl_memory[] memories = new dnnl_memory[6];
  private final dnnl_exec_arg_t args = new dnnl_exec_arg_t(6);

  BareLayerNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor var, double eps) {
    Shape s = x.shape();
    dnnl_memory_desc md = Dnnl.memoryDesc(s, x.strides());
    dnnl_memory_desc stats = Dnnl.vectorDesc(mean.elementCount());
    dnnl_memory_desc params = Dnnl.vectorDesc(gamma.elementCount());
    dnnl_primitive_desc pd = new dnnl_primitive_desc();
    check(dnnl_layer_normalization_forward_primitive_desc_create(pd, Dnnl.engine(), dnnl_forward_training, md, md,
        stats, (float) eps, dnnl_use_scale | dnnl_use_shift, null), "create a layer-norm descriptor");
    check(dnnl_primitive_create(primitive, pd), "create the layer-norm primitive");
    dnnl_primitive_desc_destroy(pd);
    check(dnnl_stream_create(stream, Dnnl.engine(), dnnl_stream_default_flags), "create a stream");
    int[] kinds = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT};
    Tensor[] tensors = {x, y, mean, var, gamma, beta};
    dnnl_memory_desc[] descs = {md, md, stats, stats, params, params};
    for (int i = 0; i < kinds.length; i++) {
      memories[i] = new dnnl_memory();
      check(dnnl_memory_create(memories[i], descs[i], Dnnl.engine(), tensors[i].pointer()), "create a memory");
      args.position(i).arg(kinds[i]).memory(memories[i]);
    }
    args.position(0);
    dnnl_memory_desc_destroy(md);
    dnnl_memory_desc_destroy(stats);
    dnnl_memory_desc_destroy(params);
  }

  /** One bare execution. */
  void run() {
    dnnl_primitive_execute(primitive, stream, 6, args);
    dnnl_stream_wait(stream);
  }

  @Override
  public void close() {
    for (dnnl_memory m : memories) dnnl_memory_destroy(m);
    dnnl_primitive_destroy(primitive);
    dnnl_stream_destroy(stream);
    args.close();
  }
}
