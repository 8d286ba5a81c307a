package dev.normkit;

import java.util.ArrayList;
import java.util.List;

/**
 * What every layer shares: the tensors it owns (parameters, gradients, running and saved statistics), freed
 * together by an idempotent {@link #close()}, and the {@link IllegalStateException} on use after close.
 */
abstract class AbstractLayer implements AutoCloseable {
  private final List<Tensor> owned = new ArrayList<>();
  private volatile boolean closed;

  /** Registers a tensor the layer owns (null is ignored) and returns it. */
  final Tensor own(Tensor t) {
    if (t != null) {
      synchronized (owned) {
        owned.add(t);
      }
    }
    return t;
  }

  /** Frees a tensor the layer owns and forgets it (null is ignored). */
  private void release(Tensor t) {
    if (t == null) return;
    synchronized (owned) {
      owned.remove(t);
    }
    t.close();
  }

  /**
   * The per-set mean and variance a layer's forward saves for its backward, whose shape follows the input's. A
   * forward writes them after {@link #prepare}: into the saved tensors when their shape fits (nothing is allocated),
   * else into new ones, which replace the saved ones only at {@link #commit}, once the forward has succeeded. A
   * rejected forward (bad arguments) leaves the statistics of the last successful one, so that its backward still
   * runs; the next prepare frees what it left. Used under the layer's lock.
   */
  final class SavedStatistics {
    private Tensor mean, var;          // of the latest successful forward
    private Tensor nextMean, nextVar;  // for the forward under way

    /** Tensors of {@code shape} for the next forward to write ({@link #nextMean}, {@link #nextVar}). */
    void prepare(Shape shape) {
      if (nextMean != mean) release(nextMean);
      if (nextVar != var) release(nextVar);
      nextMean = fits(mean, shape) ? mean : own(Tensor.zeros(shape, Layout.CHANNELS_FIRST));
      nextVar = fits(var, shape) ? var : own(Tensor.zeros(shape, Layout.CHANNELS_FIRST));
    }

    Tensor nextMean() { return nextMean; }
    Tensor nextVar() { return nextVar; }

    /** The forward succeeded: what it wrote becomes the saved statistics. */
    void commit() {
      if (nextMean != mean) release(mean);
      if (nextVar != var) release(var);
      mean = nextMean;
      var = nextVar;
    }

    /** The statistics of the latest successful forward (null before the first). */
    Tensor mean() { return mean; }
    Tensor var() { return var; }

    private boolean fits(Tensor t, Shape shape) {
      return t != null && !t.isClosed() && t.shape().equals(shape);
    }
  }

  /** Throws {@link IllegalStateException} after {@link #close()}. */
  final void checkOpen() {
    if (closed) throw new IllegalStateException(getClass().getSimpleName() + " is closed");
  }

  public final boolean isClosed() {
    return closed;
  }

  /** Frees every tensor the layer owns; idempotent. */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    synchronized (owned) {
      for (Tensor t : owned) t.close();
      owned.clear();
    }
  }

  /** The input has the channel count the layer was built for. */
  final void checkChannels(Tensor x, long expected) {
    Checks.activation(x, "input");
    if (x.shape().channels() != expected) {
      throw new IllegalArgumentException(getClass().getSimpleName() + " expects " + expected
          + " channels, input " + x.shape() + " has " + x.shape().channels());
    }
  }

  /** A parameter vector of {@code n} copies of {@code value}. */
  static Tensor filledVector(long n, float value) {
    Tensor t = Tensor.zeros(Shape.of(n), Layout.CHANNELS_FIRST);
    if (value != 0) t.fill(value);
    return t;
  }

  /** The output of {@code op} in a new tensor shaped like {@code like}; freed if op throws. */
  static Tensor newOutput(Shape shape, Layout layout, java.util.function.Consumer<Tensor> op) {
    Tensor out = Tensor.empty(shape, layout);
    try {
      op.accept(out);
      return out;
    } catch (RuntimeException | Error e) {
      out.close();
      throw e;
    }
  }
}
