package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;
import org.rfim4j.djl.mnist.Mnist;

/**
 * The DJL launcher visits the training images in rfim4j's order: its permutation equals {@code Trainer.shuffle}
 * (package-private, hence this test's package) for several seeds and epochs.
 */
class TrainerOrderTest {
  @Test
  void launcherPermutationIsTrainersPermutation() {
    for (long seed : new long[] {1, 2, 42}) {
      for (int epoch = 1; epoch <= 3; epoch++) {
        int[] rfim4j = new int[50_000];
        Trainer.shuffle(rfim4j, seed, epoch);
        assertArrayEquals(rfim4j, Mnist.permutation(50_000, seed, epoch), "seed " + seed + ", epoch " + epoch);
      }
    }
  }
}
