package org.rfim4j.backend.cpu;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The parallel-for of one {@link CpuBackend}: {@code threads - 1} worker threads (none for one thread)
 * that, together with the calling thread, run numbered blocks of work.
 *
 * <p>A training step makes many short parallel calls (a split GEMM, the metric moving averages, an Adam
 * update) with a few hundred microseconds of serial work between them. A pool whose idle workers park at
 * once (a {@code ForkJoinPool}) pays a thread wake-up on every call: about 30 µs measured on the 2-core
 * development VM, a tenth of a 50 x 784 x 80 GEMM. So an idle worker first spins for {@link #SPIN_NANOS}
 * (system property {@code rfim4j.cpu.spinMicros}, default 500) watching for the next call, and only then
 * parks; after 30 s without work it exits and is started again by the next call. Spinning keeps a core
 * busy between calls; {@code -Drfim4j.cpu.spinMicros=0} turns it off.
 */
final class ParallelBlocks {

  /** Below this many multiply-adds an operation runs on the calling thread. */
  static final long PARALLEL_FLOPS = 1L << 20;

  /** How long an idle worker spins before it parks. */
  static final long SPIN_NANOS = spinNanos();

  private static final long IDLE_EXIT_NANOS = 30_000_000_000L;

  /** Work on one block; {@code slot} in [0, threads) identifies the scratch buffers to use. */
  interface BlockBody {
    void run(int block, int slot);
  }

  private final int threads;
  private final Worker[] workers;
  private volatile Job current;
  private volatile boolean shut;

  /** @param threads number of threads (1 = run on the caller only) */
  ParallelBlocks(int threads) {
    this.threads = threads;
    this.workers = new Worker[Math.max(0, threads - 1)];
  }

  private static long spinNanos() {
    String p = System.getProperty("rfim4j.cpu.spinMicros");
    if (p == null || p.isBlank()) {
      return 500_000L;
    }
    try {
      long us = Long.parseLong(p.trim());
      if (us < 0) {
        throw new NumberFormatException();
      }
      return us * 1000L;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(String.format(Locale.ROOT,
          "system property rfim4j.cpu.spinMicros must be a non-negative integer, got '%s'", p), e);
    }
  }

  int threads() {
    return threads;
  }

  /** Whether there are workers (more than one thread). */
  boolean hasPool() {
    return workers.length > 0;
  }

  /**
   * {@link #run} when {@code spread} is true, otherwise every block in order on the calling thread (slot 0):
   * for bodies that call a native library which, unless it is single-threaded, runs its own threads and
   * takes one call at a time.
   */
  void runIf(boolean spread, int n, long flops, BlockBody body) {
    if (spread) {
      run(n, flops, body);
      return;
    }
    for (int i = 0; i < n; i++) {
      body.run(i, 0);
    }
  }

  /**
   * Runs {@code body} for blocks 0..n-1. Blocks are handed out dynamically: the calling thread and the
   * workers take the next unclaimed block until none is left, so a worker that the OS does not schedule
   * (other load on the machine) never holds up the call by more than the block it is in; the caller alone
   * finishes the call if no worker comes. Calls from inside a block run serially.
   */
  void run(int n, long flops, BlockBody body) {
    boolean parallel = workers.length > 0 && flops >= PARALLEL_FLOPS && n >= 2 && !shut
        && !(Thread.currentThread() instanceof Worker);
    if (!parallel) {
      for (int i = 0; i < n; i++) {
        body.run(i, 0);
      }
      return;
    }
    Job job = new Job(n, body);
    current = job;
    for (int h = 0, helpers = Math.min(threads, n) - 1; h < helpers; h++) {
      wake(h);
    }
    job.work(0);
    job.awaitAll();
    current = null;  // no reference to the body's arrays between calls
    Throwable f = job.failure.get();
    if (f instanceof RuntimeException) {
      throw (RuntimeException) f;
    } else if (f instanceof Error) {
      throw (Error) f;
    } else if (f != null) {
      throw new IllegalStateException(f);
    }
  }

  private void wake(int h) {
    Worker w = workers[h];
    if (w == null || !w.alive) {
      w = new Worker(h + 1);
      workers[h] = w;
      w.start();
    } else if (w.parked) {
      LockSupport.unpark(w);
    }
  }

  /** Stops the workers, waiting up to 10 seconds for them. */
  void shutdown() {
    shut = true;
    for (Worker w : workers) {
      if (w != null) {
        LockSupport.unpark(w);
      }
    }
    for (Worker w : workers) {
      if (w != null) {
        try {
          w.join(10_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  private final class Worker extends Thread {
    final int slot;
    volatile boolean parked;
    volatile boolean alive = true;
    private Job last;

    Worker(int slot) {
      super("rfim4j-cpu-" + slot);
      setDaemon(true);
      this.slot = slot;
    }

    @Override
    public void run() {
      long idleSince = System.nanoTime();
      try {
        while (!shut) {
          Job j = current;
          if (j != null && j != last) {
            last = j;
            j.work(slot);
            idleSince = System.nanoTime();
            continue;
          }
          long idle = System.nanoTime() - idleSince;
          if (idle < SPIN_NANOS) {
            Thread.onSpinWait();
            continue;
          }
          if (idle > IDLE_EXIT_NANOS) {
            break;
          }
          parked = true;
          if (current == last && !shut) {  // re-check after announcing: run() unparks a parked worker
            LockSupport.parkNanos(this, 1_000_000_000L);
          }
          parked = false;
        }
      } finally {
        alive = false;
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
