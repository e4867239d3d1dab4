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
  /** Per-layer buffers of a cross-layer call ({@link LayerWork}): [layer][which]. */
  private double[][][] layers = new double[0][][];
  private int[][] layerInts = new int[0][];

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

  /**
   * Buffer {@code which} (0 or 1) of layer {@code layer} in a call over several layers ({@link LayerWork}),
   * at least {@code len} long: each layer of the call has its own, so layers can run on different threads.
   */
  double[] layer(int layer, int which, int len) {
    if (layers.length <= layer) {
      int old = layers.length;
      layers = java.util.Arrays.copyOf(layers, layer + 1);
      for (int i = old; i <= layer; i++) {
        layers[i] = new double[][] {new double[0], new double[0]};
      }
    }
    return grow(layers[layer], which, len);
  }

  /** An int buffer of layer {@code layer} in a call over several layers, at least {@code len} long. */
  int[] layerInts(int layer, int len) {
    if (layerInts.length <= layer) {
      int old = layerInts.length;
      layerInts = java.util.Arrays.copyOf(layerInts, layer + 1);
      for (int i = old; i <= layer; i++) {
        layerInts[i] = new int[0];
      }
    }
    if (layerInts[layer].length < len) {
      layerInts[layer] = new int[len];
    }
    return layerInts[layer];
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
