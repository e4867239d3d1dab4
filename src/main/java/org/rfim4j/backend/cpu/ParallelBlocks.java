package org.rfim4j.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The parallel-for of one {@link CpuBackend}: a small private fork-join pool ({@code threads - 1}
 * workers; none for one thread) that, together with the calling thread, runs numbered blocks of work.
 */
final class ParallelBlocks {

  /** Below this many multiply-adds an operation runs on the calling thread. */
  static final long PARALLEL_FLOPS = 1L << 20;

  /** Work on one block; {@code slot} in [0, threads) identifies the scratch buffers to use. */
  interface BlockBody {
    void run(int block, int slot);
  }

  private final int threads;
  private final ForkJoinPool pool;

  /** @param threads number of threads (1 = run on the caller only) */
  ParallelBlocks(int threads) {
    this.threads = threads;
    this.pool = threads > 1 ? new ForkJoinPool(threads - 1) : null;
  }

  int threads() {
    return threads;
  }

  /** Whether there are pool workers (more than one thread). */
  boolean hasPool() {
    return pool != null;
  }

  /**
   * Runs {@code body} for blocks 0..n-1. Blocks are handed out dynamically: the calling thread and up to
   * threads-1 pool workers take the next unclaimed block until none is left, so a worker that the OS does
   * not schedule (other load on the machine) never holds up the call by more than the block it is in.
   */
  void run(int n, long flops, BlockBody body) {
    int helpers = pool == null || flops < PARALLEL_FLOPS || n < 2 ? 0 : Math.min(threads, n) - 1;
    if (helpers == 0) {
      for (int i = 0; i < n; i++) {
        body.run(i, 0);
      }
      return;
    }
    Job job = new Job(n, body);
    for (int h = 1; h <= helpers; h++) {
      final int slot = h;
      pool.execute(() -> job.work(slot));
    }
    job.work(0);
    job.awaitAll();
    Throwable f = job.failure.get();
    if (f instanceof RuntimeException) {
      throw (RuntimeException) f;
    } else if (f instanceof Error) {
      throw (Error) f;
    } else if (f != null) {
      throw new IllegalStateException(f);
    }
  }

  /** Stops the pool's workers, waiting up to 10 seconds for them. */
  void shutdown() {
    if (pool != null) {
      pool.shutdown();
      try {
        pool.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static final class Job {
    final AtomicInteger next = new AtomicInteger();
    final AtomicInteger done = new AtomicInteger();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    final int n;
    final BlockBody body;

    Job(int n, BlockBody body) {
      this.n = n;
      this.body = body;
    }

    void work(int slot) {
      int i;
      while ((i = next.getAndIncrement()) < n) {
        try {
          body.run(i, slot);
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          done.incrementAndGet();
        }
      }
    }

    void awaitAll() {
      int spins = 0;
      while (done.get() < n) {
        if (++spins < 2000) {
          Thread.onSpinWait();
        } else {
          Thread.yield();
        }
      }
    }
  }
}
