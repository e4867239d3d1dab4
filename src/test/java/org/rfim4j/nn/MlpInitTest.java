package org.rfim4j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.backend.cpu.CpuBackend32;

/** One seed is one starting point on every engine: the initial weights are float32 values everywhere. */
class MlpInitTest {

  @Test
  void float64AndFloat32EnginesStartFromTheSameWeights() {
    MlpConfig config = MlpConfig.paper(Architecture.PLAIN, 7);
    try (CpuBackend b64 = new CpuBackend(1, CpuBackend.GemmPath.JAVA);
        CpuBackend32 b32 = new CpuBackend32(1, CpuBackend.GemmPath.JAVA);
        Mlp m64 = new Mlp(b64, config, 4);
        Mlp m32 = new Mlp(b32, config, 4)) {
      List<double[]> p64 = m64.downloadParameters();
      List<double[]> p32 = m32.downloadParameters();
      assertEquals(p32.size(), p64.size());
      int distinct = 0;
      for (int t = 0; t < p64.size(); t++) {
        assertArrayEquals(p32.get(t), p64.get(t), 0.0, "parameter tensor " + t);
        for (double v : p64.get(t)) {
          assertEquals((double) (float) v, v, 0.0, "a float32 value");
          assertTrue(Math.abs(v) <= 2 * config.initStd(), "truncated at 2 std: " + v);
        }
        distinct += (int) Arrays.stream(p64.get(t)).distinct().count();
      }
      // the draws are real: 784-80-80-80-10 has 76,570 weights, nearly all different
      assertTrue(distinct > 70_000, "distinct initial values: " + distinct);
    }
    try (CpuBackend b = new CpuBackend(1, CpuBackend.GemmPath.JAVA);
        Mlp a = new Mlp(b, MlpConfig.paper(Architecture.PLAIN, 7), 4);
        Mlp c = new Mlp(b, MlpConfig.paper(Architecture.PLAIN, 8), 4)) {
      assertFalse(Arrays.equals(a.downloadParameters().get(0), c.downloadParameters().get(0)), "seeds differ");
    }
  }
}
