package org.rfim4j.backend.cpu;

/**
 * Scratch buffers of one {@link CpuBackend32} (float buffers), reused across calls and grown on demand: three per-slot
 * buffers and a 4 x 4 tile per thread slot (see {@link ParallelBlocks.BlockBody}), and two buffers for
 * the calling thread. Their contents are not kept between uses.
 */
final class Scratch32 {
  private final float[][] slotA;
  private final float[][] slotB;
  private final float[][] slotC;
  private final float[][] shared = {new float[0], new float[0]};
  private final float[][] tiles;
  private int[] ints = new int[0];
  /** Per-layer buffers of a cross-layer call ({@link LayerWork}): [layer][which]. */
  private float[][][] layers = new float[0][][];
  private int[][] layerInts = new int[0][];
  private double[] doubles = new double[0];

  Scratch32(int threads) {
    this.slotA = new float[threads][];
    this.slotB = new float[threads][];
    this.slotC = new float[threads][];
    this.tiles = new float[threads][16];
    for (int i = 0; i < threads; i++) {
      slotA[i] = new float[0];
      slotB[i] = new float[0];
      slotC[i] = new float[0];
    }
  }

  /** The 4 x 4 tile (16 entries) of thread slot {@code slot}. */
  float[] tile(int slot) {
    return tiles[slot];
  }

  /** First per-slot buffer, at least {@code len} long. */
  float[] slotA(int slot, int len) {
    return grow(slotA, slot, len);
  }

  /** Second per-slot buffer, at least {@code len} long. */
  float[] slotB(int slot, int len) {
    return grow(slotB, slot, len);
  }

  /** Third per-slot buffer, at least {@code len} long. */
  float[] slotC(int slot, int len) {
    return grow(slotC, slot, len);
  }

  /** First buffer of the calling thread, at least {@code len} long. */
  float[] sharedA(int len) {
    return grow(shared, 0, len);
  }

  /** Second buffer of the calling thread, at least {@code len} long. */
  float[] sharedB(int len) {
    return grow(shared, 1, len);
  }

  /**
   * Buffer {@code which} (0 or 1) of layer {@code layer} in a call over several layers ({@link LayerWork}),
   * at least {@code len} long: each layer of the call has its own, so layers can run on different threads.
   */
  float[] layer(int layer, int which, int len) {
    if (layers.length <= layer) {
      int old = layers.length;
      layers = java.util.Arrays.copyOf(layers, layer + 1);
      for (int i = old; i <= layer; i++) {
        layers[i] = new float[][] {new float[0], new float[0]};
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

  /** A double buffer of the calling thread (accumulators), at least {@code len} long. */
  double[] doubles(int len) {
    if (doubles.length < len) {
      doubles = new double[len];
    }
    return doubles;
  }

  private static float[] grow(float[][] slots, int slot, int len) {
    float[] s = slots[slot];
    if (s.length < len) {
      s = new float[len];
      slots[slot] = s;
    }
    return s;
  }
}
