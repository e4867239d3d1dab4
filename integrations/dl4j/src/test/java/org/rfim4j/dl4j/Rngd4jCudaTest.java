package org.rfim4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.optim.RngdConfig;

/**
 * The GPU path: DL4J on the CPU, rfim4j's CUDA backend holding and inverting the metrics. Runs on the CUDA
 * simulator when {@code -Dcudasim.dir} names its build (scripts/test-dl4j passes the root build's
 * {@code target/cudasim}), or on a real GPU ({@code /dev/nvidia0}); skips with the reason otherwise, and when the
 * installed rfim4j was built without its CUDA kernels ({@code -Drfim4j.skipPtx=true}).
 *
 * <p>Same runs and tolerance as {@link Rngd4jEquivalenceTest} (small network, T = 3, both dampings, both orders)
 * against rfim4j's own Rngd in float64 on the CPU. The CUDA backend stores float32 (the simulator computes in
 * double on float data, a GPU in float), so the metric, its inverse and the step carry float32 rounding too; with
 * the small, well-conditioned metrics here that stays within the same 1e-5: measured on the simulator, at most
 * 3.0e-7 (the float32 rounding of a step, about 1e-9, is below the float32 spacing of the weights, so DL4J's
 * float32 parameters mostly come out the same as with the CPU backend).
 */
@Tag("gpu")
class Rngd4jCudaTest {
  static final String[] STAND_INS = {"libcuda.so.1", "libcublas.so.12", "libcusolverMg.so.11", "libcusolver.so.11"};
  static Backend cuda;
  /** Why there is no CUDA backend (each test skips with it), or null. */
  static String skipReason;

  @BeforeAll
  static void open() throws Exception {
    if (Rngd4jCudaTest.class.getResource("/org/rfim4j/kernels/rngd.ptx") == null) {
      skipReason = "the installed rfim4j jar has no CUDA kernels (built with -Drfim4j.skipPtx=true); install it "
          + "with nvcc present to run this test";
      return;
    }
    String dir = System.getProperty("cudasim.dir");
    if (dir != null && !dir.isBlank()) {
      Path d = Path.of(dir).toAbsolutePath();
      if (!Files.isRegularFile(d.resolve(STAND_INS[0]))) {
        skipReason = "no CUDA simulator in " + d + " (the root build's cudasim profile, or sh "
            + "native-test/cudasim/build.sh " + d + ", builds it)";
        return;
      }
      // JCuda extracts its JNI libraries to java.io.tmpdir; the stand-ins must be loaded before any JCuda class.
      Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
      for (String lib : STAND_INS) {
        System.load(d.resolve(lib).toString());
      }
      cuda = org.rfim4j.backend.cuda.CudaBackend.openDevice(0);
    } else if (Files.exists(Path.of("/dev/nvidia0"))) {
      cuda = org.rfim4j.backend.cuda.CudaBackend.open();
    } else {
      skipReason = "no GPU (/dev/nvidia0) and no CUDA simulator (-Dcudasim.dir unset; scripts/test-dl4j sets it "
          + "when target/cudasim holds the simulator)";
    }
  }

  static Backend cuda() {
    Assumptions.assumeTrue(cuda != null, skipReason);
    return cuda;
  }

  @AfterAll
  static void close() {
    if (cuda != null) {
      cuda.close();
    }
  }

  @ParameterizedTest(name = "{0} {1} on {2}")
  @CsvSource({"METRIC_FIRST, CANONICAL, cuda", "METRIC_FIRST, PAPER, cuda", "STEP_FIRST, CANONICAL, cuda",
      "STEP_FIRST, PAPER, cuda"})
  void theCudaBackendTakesRfim4jsSteps(RngdConfig.Order order, RngdConfig.Damping damping, String unused) {
    Equivalence.Result r = Equivalence.run(Equivalence.SMALL, Equivalence.config(order, damping), Activation.RELU,
        Rngd4jEquivalenceTest.L2, Equivalence.Setup.CORRECT, Rngd4j.options().backend(cuda()), false);
    System.out.println("CUDA (" + cuda.name() + ") " + order + " " + damping + ": " + r);
    Rngd4jEquivalenceTest.check(r);
  }

  @ParameterizedTest(name = "L2 left in DL4J, {0}")
  @CsvSource({"CANONICAL", "PAPER"})
  void aWrongSetUpFailsTheComparison(RngdConfig.Damping damping) {
    Equivalence.Result r = Equivalence.run(Equivalence.SMALL, Equivalence.config(RngdConfig.Order.METRIC_FIRST,
        damping), Activation.RELU, Rngd4jEquivalenceTest.L2, Equivalence.Setup.L2_IN_DL4J,
        Rngd4j.options().backend(cuda()), false);
    assertTrue(r.maxScaled() > Rngd4jEquivalenceTest.TOL, "the comparison must fail, got " + r);
  }
}
