package org.rfim4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The spinning worker pool: every block exactly once, failures passed on, parked workers woken. */
class ParallelBlocksTest {

  /** Runs one call of n blocks and checks each ran once, on slots within range. */
  private static void once(ParallelBlocks p, int n, int threads, java.util.Set<String> threadNames) {
    AtomicIntegerArray hits = new AtomicIntegerArray(n);
    p.run(n, Long.MAX_VALUE, (b, slot) -> {
      assertTrue(slot >= 0 && slot < threads, "slot " + slot);
      hits.incrementAndGet(b);
      threadNames.add(Thread.currentThread().getName());
    });
    for (int b = 0; b < n; b++) {
      assertEquals(1, hits.get(b), "block " + b + " of " + n);
    }
  }

  @Test
  void everyBlockOnceAcrossManyCallsAndAfterParking() throws InterruptedException {
    ParallelBlocks p = new ParallelBlocks(3);
    java.util.Set<String> names = ConcurrentHashMap.newKeySet();
    try {
      for (int call = 0; call < 2000; call++) {
        once(p, 1 + call % 37, 3, names);
      }
      // idle longer than the spin: the workers park and must be woken by the next call
      Thread.sleep(ParallelBlocks.SPIN_NANOS / 1_000_000 + 50);
      for (int call = 0; call < 50; call++) {
        once(p, 64, 3, names);
      }
    } finally {
      p.shutdown();
    }
    assertTrue(names.stream().anyMatch(n -> n.startsWith("rfim4j-cpu-")), "no worker ever ran a block: " + names);
  }

  @Test
  void failureReachesTheCallerAndThePoolGoesOn() {
    ParallelBlocks p = new ParallelBlocks(2);
    try {
      IllegalStateException boom = new IllegalStateException("block 5 failed");
      IllegalStateException got = assertThrows(IllegalStateException.class,
          () -> p.run(16, Long.MAX_VALUE, (b, slot) -> {
            if (b == 5) {
              throw boom;
            }
          }));
      assertSame(boom, got);
      once(p, 16, 2, ConcurrentHashMap.newKeySet());
    } finally {
      p.shutdown();
    }
  }

  @Test
  void nestedCallsRunSeriallyAndSmallCallsOnTheCaller() {
    ParallelBlocks p = new ParallelBlocks(2);
    try {
      AtomicIntegerArray inner = new AtomicIntegerArray(8 * 4);
      p.run(8, Long.MAX_VALUE, (b, slot) ->
          p.run(4, Long.MAX_VALUE, (c, s2) -> inner.incrementAndGet(b * 4 + c)));
      for (int i = 0; i < 32; i++) {
        assertEquals(1, inner.get(i));
      }
      String caller = Thread.currentThread().getName();
      p.run(8, ParallelBlocks.PARALLEL_FLOPS - 1, (b, slot) -> {
        assertEquals(caller, Thread.currentThread().getName());
        assertEquals(0, slot);
      });
    } finally {
      p.shutdown();
    }
  }

  @Test
  void shutdownStopsTheWorkers() {
    ParallelBlocks p = new ParallelBlocks(2);
    java.util.Set<Thread> workers = ConcurrentHashMap.newKeySet();
    Thread caller = Thread.currentThread();
    // blocks slow enough that the worker joins at least one call
    for (int call = 0; call < 200 && workers.isEmpty(); call++) {
      p.run(8, Long.MAX_VALUE, (b, slot) -> {
        if (Thread.currentThread() != caller) {
          workers.add(Thread.currentThread());
        }
        long t0 = System.nanoTime();
        while (System.nanoTime() - t0 < 20_000) {
          Thread.onSpinWait();
        }
      });
    }
    assertFalse(workers.isEmpty(), "the worker never ran a block");
    p.shutdown();
    for (Thread w : workers) {
      assertFalse(w.isAlive(), w.getName() + " still running after shutdown");
    }
    // after shutdown the pool still works, on the caller
    p.run(4, Long.MAX_VALUE, (b, slot) -> assertSame(caller, Thread.currentThread()));
  }
}
