package dev.normkit.bench;

import dev.normkit.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One benchmark case: an op, a pass, a layout and a shape, with its inputs and outputs allocated once, and the call
 * that runs the pass on them (allocating nothing). {@link #bytes()} is the minimum memory traffic of the pass:
 * forward reads x once and writes y once; backward reads x and dy once and writes dx once.
 */
public final class BenchCase implements AutoCloseable {
  private final String op;
  private final String pass;
  private final String layout;
  private final long[] shape;
  private final Map<String, Object> params;
  private final long bytes;
  private final List<Tensor> tensors = new ArrayList<>();
  private Runnable call;

  BenchCase(String op, String pass, String layout, long[] shape, Map<String, Object> params, long bytes) {
    this.op = op;
    this.pass = pass;
    this.layout = layout;
    this.shape = shape.clone();
    this.params = new LinkedHashMap<>(params);
    this.bytes = bytes;
  }

  /** Registers a tensor the case owns. */
  Tensor own(Tensor t) {
    if (t != null) tensors.add(t);
    return t;
  }

  BenchCase call(Runnable call) {
    this.call = call;
    return this;
  }

  /** Runs the pass once. */
  public void run() {
    call.run();
  }

  public String op() { return op; }
  public String pass() { return pass; }
  public String layout() { return layout; }
  public long[] shape() { return shape.clone(); }
  public Map<String, Object> params() { return params; }
  public long bytes() { return bytes; }

  /** "batch-norm forward-training nchw (32, 64, 14, 14)". */
  public String label() {
    StringBuilder s = new StringBuilder(op).append(' ').append(pass).append(' ').append(layout).append(" (");
    for (int i = 0; i < shape.length; i++) s.append(i > 0 ? ", " : "").append(shape[i]);
    return s.append(')').toString();
  }

  @Override
  public void close() {
    for (Tensor t : tensors) t.close();
    tensors.clear();
  }
}
