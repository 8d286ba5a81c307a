package dev.normkit.backend.dnnl;

import dev.normkit.Tensor;
import dev.normkit.backend.ThreadPolicy;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Created primitives keyed by their configuration (op, shape, layout, flags, eps, ...), so that a primitive
 * descriptor is built once per configuration rather than on every call. Least recently used entries beyond the
 * capacity are retired; a retired primitive is destroyed once its current users release it.
 *
 * <p>Thread-safe. Usage: {@code p = cache.acquire(key, factory); try { p.execute(...) } finally { p.release() }}.
 */
public final class PrimitiveCache {
  /** Default capacity: enough for every op and pass of a few dozen shapes. */
  public static final int DEFAULT_CAPACITY = 512;

  private static final PrimitiveCache GLOBAL = new PrimitiveCache(DEFAULT_CAPACITY);

  private final int capacity;
  private final LinkedHashMap<Object, DnnlPrimitive> entries = new LinkedHashMap<>(64, 0.75f, true);
  private long hits;
  private long misses;

  public PrimitiveCache(int capacity) {
    if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
    this.capacity = capacity;
  }

  /** The cache every oneDNN-backed kernel uses. */
  public static PrimitiveCache global() {
    return GLOBAL;
  }

  /**
   * The primitive for {@code key}, created by {@code factory} on a miss, retained for the caller, who must
   * {@link DnnlPrimitive#release()} it after use. {@code key} must implement equals and hashCode by value.
   */
  public DnnlPrimitive acquire(Object key, Supplier<DnnlPrimitive> factory) {
    return acquire(key, factory, ThreadPolicy.threads());
  }

  /**
   * As {@link #acquire(Object, Supplier)}, for a primitive that runs on {@code threads} OpenMP threads (created under
   * that count, and executed under it by {@link DnnlPrimitive#execute}).
   */
  public DnnlPrimitive acquire(Object key, Supplier<DnnlPrimitive> factory, int threads) {
    return acquire(new ThreadedKey(key, threads), factory);
  }

  /**
   * What the cache is keyed by: a configuration and the OpenMP thread count its primitive runs on (some oneDNN kernels
   * fix their work partition at creation, so a primitive belongs to one thread count). A caller that looks the same
   * primitive up on every call can build it once and use {@link #acquire(ThreadedKey, Supplier)}.
   */
  public record ThreadedKey(Object key, int threads) {}

  /** As {@link #acquire(Object, Supplier, int)} with a prebuilt key (no allocation when the primitive is cached). */
  public DnnlPrimitive acquire(ThreadedKey key, Supplier<DnnlPrimitive> factory) {
    ThreadPolicy.apply(key.threads());
    return acquireExact(key, factory);
  }

  /** Acquires the primitive for {@code key} (created by {@code factory} on a miss), runs it on {@code args}, releases it. */
  public static void execute(Object key, Supplier<DnnlPrimitive> factory, Tensor... args) {
    execute(key, factory, ThreadPolicy.threads(), args);
  }

  /** As {@link #execute(Object, Supplier, Tensor...)}, on {@code threads} OpenMP threads. */
  public static void execute(Object key, Supplier<DnnlPrimitive> factory, int threads, Tensor... args) {
    DnnlPrimitive p = GLOBAL.acquire(key, factory, threads);
    try {
      p.execute(args);
    } finally {
      p.release();
    }
  }

  private synchronized DnnlPrimitive acquireExact(ThreadedKey key, Supplier<DnnlPrimitive> factory) {
    DnnlPrimitive p = entries.get(key);
    if (p == null) {
      misses++;
      p = factory.get();
      entries.put(key, p);
      evictBeyondCapacity();
    } else {
      hits++;
    }
    p.retain();
    return p;
  }

  public synchronized int size() {
    return entries.size();
  }

  /** Lookups answered from the cache since start. */
  public synchronized long hits() {
    return hits;
  }

  /** Primitives created since start. */
  public synchronized long misses() {
    return misses;
  }

  /** Retires every entry. */
  public synchronized void clear() {
    for (DnnlPrimitive p : entries.values()) p.retire();
    entries.clear();
  }

  private void evictBeyondCapacity() {
    Iterator<Map.Entry<Object, DnnlPrimitive>> it = entries.entrySet().iterator();
    while (entries.size() > capacity && it.hasNext()) {
      DnnlPrimitive eldest = it.next().getValue();
      it.remove();
      eldest.retire();
    }
  }
}
