package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendSelector;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.cuda.CudaBackend;
import org.rfim4j.cudasim.CudaSimSupport;
import org.rfim4j.cudasim.GpuTest;
import org.rfim4j.io.Memory;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.OptimizerSpec;

/**
 * Issue 16 on the CUDA backend (a GPU, or the CUDA simulator in {@code mvn test}): the device's free memory is
 * read before a run (cuMemGetInfo) and a run that cannot fit is refused naming it; the per-epoch finite check
 * finds NaN and infinity in float32 arrays, and not a large finite value whose square overflows float32.
 */
@GpuTest
class GpuReliabilityTest {
  static CudaBackend gpu;

  @BeforeAll
  static void open() {
    CudaSimSupport.init();
    org.junit.jupiter.api.Assumptions.assumeTrue(CudaSimSupport.simulated()
        || org.rfim4j.backend.cuda.CudaProbe.probe().available(), "no GPU and no CUDA simulator");
    gpu = CudaSimSupport.simulated() ? CudaBackend.openDevice(0) : CudaBackend.open();
  }

  @AfterAll
  static void close() {
    if (gpu != null) {
      gpu.close();
    }
  }

  @Test
  void deviceMemoryIsCheckedBeforeARun() {
    long free = BackendSelector.deviceFreeBytes(gpu);
    assertTrue(free > 0, "cuMemGetInfo through the selector: " + free);
    // Layers of 40,000 units: each 40,001 x 40,000 weights (one array may hold them) take 4 x 6.4 GB with Adam's
    // moments in float32; enough of them to exceed whatever the device has free.
    int[] hidden = new int[(int) (free / 25.6e9) + 2];
    java.util.Arrays.fill(hidden, 40_000);
    MlpConfig huge = new MlpConfig(784, hidden, 10, Activation.RELU, Architecture.PLAIN, 1e-3, 0.1, 1, 0.999, 1e-3);
    MemoryEstimate e = MemoryEstimate.of(huge, OptimizerSpec.adam(1e-3), 50, 500, 50_000, 10_000);
    Memory.NotEnoughMemoryException x = assertThrows(Memory.NotEnoughMemoryException.class,
        () -> e.require(gpu, false));
    assertTrue(x.getMessage().contains("GPU memory") && x.getMessage().contains("free"), x.getMessage());
    MlpConfig small = new MlpConfig(16, new int[] {8}, 3, Activation.RELU, Architecture.PLAIN, 1e-3, 0.1, 1, 0.999,
        1e-3);
    MemoryEstimate.of(small, OptimizerSpec.adam(1e-3), 10, 500, 100, 100).require(gpu, true);
  }

  @Test
  void finiteCheckOnFloat32() {
    try (DeviceArray ok = gpu.allocate(3, 4); DeviceArray big = gpu.allocate(5);
        DeviceArray nan = gpu.allocate(2, 2); DeviceArray inf = gpu.allocate(7)) {
      gpu.upload(ok, new double[] {1, -2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
      gpu.upload(big, new double[] {1e30, -1e30, 3e38, 0, 1}); // squares overflow float32: still finite
      gpu.upload(nan, new double[] {0, Double.NaN, 1, 2});
      gpu.upload(inf, new double[] {0, 0, 0, Double.NEGATIVE_INFINITY, 0, 0, 0});
      Map<String, DeviceArray> arrays = new java.util.LinkedHashMap<>();
      arrays.put("ok", ok);
      arrays.put("big", big);
      arrays.put("nan", nan);
      arrays.put("inf", inf);
      assertEquals(List.of("nan", "inf"), FiniteCheck.nonFinite((Backend) gpu, arrays));
    }
  }
}
