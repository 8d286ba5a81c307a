package dev.normkit.backend.dnnl;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A thread-safe pool of reusable objects that allocates nothing in the common case of one user at a time: one object
 * waits in a single slot, and only the objects beyond it go to a queue (whose {@code offer} allocates a node).
 */
final class ReusePool<T> {
  private final AtomicReference<T> slot = new AtomicReference<>();
  private final ConcurrentLinkedQueue<T> overflow = new ConcurrentLinkedQueue<>();

  /** A pooled object, or null when the pool is empty. */
  T poll() {
    T t = slot.getAndSet(null);
    return t != null ? t : overflow.poll();
  }

  void offer(T t) {
    if (!slot.compareAndSet(null, t)) overflow.offer(t);
  }
}
