package org.rfim4j.backend.cpu;

/**
 * Scratch buffers of one {@link CpuBackend}, reused across calls and grown on demand: three per-slot
 * buffers and a 4 x 4 tile per thread slot (see {@link ParallelBlocks.BlockBody}), and two buffers for
 * the calling thread. Their contents are not kept between uses.
 */
final class Scratch {
  private final double[][] slotA;
  private final double[][] slotB;
  private final double[][] slotC;
  private final double[][] shared = {new double[0], new double[0]};
  private final double[][] tiles;
  private int[] ints = new int[0];

  Scratch(int threads) {
    this.slotA = new double[threads][];
    this.slotB = new double[threads][];
    this.slotC = new double[threads][];
    this.tiles = new double[threads][16];
    for (int i = 0; i < threads; i++) {
      slotA[i] = new double[0];
      slotB[i] = new double[0];
      slotC[i] = new double[0];
    }
  }

  /** The 4 x 4 tile (16 entries) of thread slot {@code slot}. */
  double[] tile(int slot) {
    return tiles[slot];
  }

  /** First per-slot buffer, at least {@code len} long. */
  double[] slotA(int slot, int len) {
    return grow(slotA, slot, len);
  }

  /** Second per-slot buffer, at least {@code len} long. */
  double[] slotB(int slot, int len) {
    return grow(slotB, slot, len);
  }

  /** Third per-slot buffer, at least {@code len} long. */
  double[] slotC(int slot, int len) {
    return grow(slotC, slot, len);
  }

  /** First buffer of the calling thread, at least {@code len} long. */
  double[] sharedA(int len) {
    return grow(shared, 0, len);
  }

  /** Second buffer of the calling thread, at least {@code len} long. */
  double[] sharedB(int len) {
    return grow(shared, 1, len);
  }

  /** An int buffer of the calling thread, at least {@code len} long. */
  int[] ints(int len) {
    if (ints.length < len) {
      ints = new int[len];
    }
    return ints;
  }

  private static double[] grow(double[][] slots, int slot, int len) {
    double[] s = slots[slot];
    if (s.length < len) {
      s = new double[len];
      slots[slot] = s;
    }
    return s;
  }
}
