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

  /** A tensor of {@code shape} owned by the layer: {@code current} if it fits, else a new one (freeing current). */
  final Tensor reuse(Tensor current, Shape shape) {
    if (current != null && !current.isClosed() && current.shape().equals(shape)) return current;
    if (current != null) {
      synchronized (owned) {
        owned.remove(current);
      }
      current.close();
    }
    return own(Tensor.zeros(shape, Layout.CHANNELS_FIRST));
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
