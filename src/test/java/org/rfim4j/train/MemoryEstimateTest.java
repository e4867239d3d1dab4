package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.backend.cpu.CpuBackend32;
import org.rfim4j.io.Memory;
import org.rfim4j.data.Dataset;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.testutil.Synthetic;

/**
 * The memory estimate made before a run (issue 16, finding 3) against what the run really allocates: every
 * backend allocation of a one-epoch training is counted through a proxy. The estimate must not be short, and
 * not more than half again too long.
 */
class MemoryEstimateTest {
  static Stream<Arguments> runs() {
    RngdConfig r = RngdConfig.defaults(0.05).withRefreshPeriod(3);
    return Stream.of(
        Arguments.of("sgd", OptimizerSpec.sgd(0.1), Architecture.PLAIN),
        Arguments.of("sgd-momentum", new OptimizerSpec("sgd", 0.1, 0.9, null), Architecture.BNA),
        Arguments.of("adam", OptimizerSpec.adam(1e-3), Architecture.PLAIN),
        Arguments.of("adam-bna", OptimizerSpec.adam(1e-3), Architecture.BNA),
        Arguments.of("rngd", OptimizerSpec.rngd(r), Architecture.PLAIN),
        Arguments.of("rngd-bna", OptimizerSpec.rngd(r), Architecture.BNA),
        Arguments.of("rngd-all-neuron", OptimizerSpec.rngd(r.withMetricKinds(MetricKind.PER_NEURON,
            MetricKind.PER_NEURON, MetricKind.PER_NEURON)), Architecture.PLAIN));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("runs")
  void estimateCoversWhatARunAllocates(String label, OptimizerSpec spec, Architecture arch) {
    long[] elements = {0};
    try (CpuBackend cpu = new CpuBackend()) {
      Backend counting = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
          new Class<?>[] {Backend.class}, (proxy, m, args) -> {
            if (m.getName().equals("allocate")) {
              long n = 1;
              for (int d : (int[]) args[0]) {
                n *= d;
              }
              elements[0] += n;
            }
            try {
              return m.invoke(cpu, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
      MlpConfig cfg = new MlpConfig(30, new int[] {24, 16}, 5, Activation.RELU, arch, 1e-3, 0.1, 3, 0.9, 1e-3);
      Dataset train = Synthetic.blobs("t", 400, 30, 5, 1);
      Dataset val = Synthetic.blobs("v", 150, 30, 5, 2);
      TrainerConfig tc = TrainerConfig.of(1, 40, 1);
      try (Mlp model = new Mlp(counting, cfg, Math.max(tc.batchSize(), tc.evalBatch()));
          Optimizer opt = spec.create(model)) {
        new Trainer(model, opt, tc).fit(train, val);
      }
      MemoryEstimate e = MemoryEstimate.of(cfg, spec, tc.batchSize(), tc.evalBatch(), train.n(), val.n());
      double actual = elements[0];
      assertTrue(e.elements() >= actual, label + ": estimate " + e.elements() + " < allocated " + actual);
      assertTrue(e.elements() <= 1.5 * actual, label + ": estimate " + e.elements() + " > 1.5 x allocated " + actual);
    }
  }

  /**
   * The float32 CPU engine keeps its arrays on the JVM heap like the float64 one, at 4 bytes an element with the
   * same CPU scratch: a run too large for the heap is refused before anything is allocated, naming the heap.
   */
  @Test
  void float32CpuEngineIsCheckedAgainstTheHeapAtHalfTheBytes() {
    MlpConfig wide = new MlpConfig(784, new int[] {1000, 1000, 1000}, 10, Activation.RELU, Architecture.PLAIN,
        1e-3, 0.1, 1, 0.9, 1e-3);
    OptimizerSpec spec = OptimizerSpec.rngd(RngdConfig.defaults(0.03).withMetricKinds(MetricKind.PER_NEURON,
        MetricKind.PER_NEURON, MetricKind.PER_NEURON, MetricKind.PER_NEURON));
    MemoryEstimate e = MemoryEstimate.of(wide, spec, 50, 500, 1000, 100);
    try (Backend b64 = new CpuBackend(); Backend b32 = new CpuBackend32()) {
      // 2 x (1000 x 785^2 + 2 x 1000 x 1001^2 + 10 x 1001^2) elements: about 21 GB at 4 bytes, twice that at 8.
      assertEquals(2.0 * e.backendBytes(b32), e.backendBytes(b64), 4.0);
      assertTrue(e.backendBytes(b32) > 5.2e9 * 4, "float32 bytes " + e.backendBytes(b32));
      assertTrue(e.backendBytes(b32) > Runtime.getRuntime().maxMemory(), "the test needs a heap below 24 GB");
      Memory.NotEnoughMemoryException x = assertThrows(Memory.NotEnoughMemoryException.class,
          () -> MemoryEstimate.require(wide, spec, 50, 500, 1000, 100, b32, false, 0, null));
      assertTrue(x.getMessage().contains("training (") && x.getMessage().contains("RNGD workspace"), x.getMessage());
    }
  }
}
