package org.rfim4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.optim.RngdConfig;

/**
 * ND4J is loaded in this JVM (its OpenBLAS 0.3.19 breaks rfim4j's native Cholesky on AVX-512 CPUs): the backend
 * {@link Rngd4j} ends up with inverts the paper network's metric sizes correctly, whatever this machine is; a
 * supplied CPU backend that inverts wrongly is refused with the fix named.
 */
class BackendCheckTest {
  @Test
  void javaKernelsInvertCorrectly() {
    try (Backend java = new CpuBackend(2, CpuBackend.GemmPath.JAVA)) {
      double err = BackendCheck.inversionError(java, List.of(13, 81, 785));
      assertTrue(err < 1e-10, "Java kernels: relative error " + err);
    }
  }

  @Test
  void theBackendRngd4jUsesInvertsCorrectly() {
    MultiLayerNetwork net = Nets.network(new int[] {784, 80, 80, 10}, Activation.RELU.getActivationFunction(),
        0.03, 0);
    StringBuilder notices = new StringBuilder();
    try (Rngd4j rngd = Rngd4j.attach(net, RngdConfig.defaults(0.03),
        Rngd4j.options().device("cpu").maxBatch(50).notices(notices::append))) {
      double err = BackendCheck.inversionError(rngd.backend(), List.of(81, 785));
      assertTrue(err <= BackendCheck.TOLERANCE, rngd.backend().name() + ": relative error " + err);
      if (notices.length() > 0) {
        assertTrue(notices.toString().contains("OPENBLAS_CORETYPE=Haswell"), notices.toString());
      }
    }
  }

  @Test
  void aSuppliedBackendThatInvertsWronglyIsRefused() {
    MultiLayerNetwork net = Nets.network(new int[] {784, 80, 10}, Activation.RELU.getActivationFunction(), 0.03, 0);
    try (Backend mine = new CpuBackend()) {
      boolean broken = BackendCheck.inversionError(mine, List.of(785)) > BackendCheck.TOLERANCE;
      try (Rngd4j rngd = Rngd4j.attach(net, RngdConfig.defaults(0.03),
          Rngd4j.options().backend(mine).maxBatch(50))) {
        assertTrue(!broken, "a backend failing the self-check must be refused");
        assertTrue(rngd.backend() == mine);
      } catch (IllegalStateException e) {
        assertTrue(broken, "refused a backend that passes the self-check: " + e.getMessage());
        assertTrue(e.getMessage().contains("OPENBLAS_CORETYPE=Haswell")
            && e.getMessage().contains("CpuBackend.GemmPath.JAVA"), e.getMessage());
        assertTrue(net.getListeners().isEmpty(), "nothing attached");
      }
    }
  }
}
