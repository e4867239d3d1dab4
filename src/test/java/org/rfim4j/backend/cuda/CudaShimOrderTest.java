package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.rfim4j.cudasim.CudaSimSupport;
import org.rfim4j.cudasim.GpuTest;

/**
 * Test-class order on a CUDA-13-only machine (issue 14, finding 4), with the simulator presented as such an
 * installation ({@code <cudasim.dir>/cuda13}: libcuda.so.1, libcublas.so.13, libcusolver.so.12 and a fake device
 * node; the CUDA 13 shims in {@code <cudasim.dir>/compat}), in child JVMs that find CUDA through the probe as on a
 * GPU node. A test that calls JCublas2 before any backend is open breaks JCublas2 for the whole JVM unless the test
 * support's entry point has loaded the shims first; through that entry point ({@code CudaSimSupport.init()}, which
 * every GPU test passes) it works and the backend opens afterwards.
 */
@GpuTest
class CudaShimOrderTest {
  @Test
  void jcublasFirstWorksOnlyThroughTheTestSupportEntryPoint() throws Exception {
    CudaSimSupport.assumeSimulated();
    Assumptions.assumeFalse("reverse".equals(CudaSimSupport.order()), "runs once, in the strict cudasim run");
    Path sim = CudaSimSupport.dir();
    Path dev = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), "fakedev");
    Files.createFile(dev.resolve("nvidia0"));
    List<String> props = List.of("-D" + CudaProbe.LIBDIR_PROPERTY + "=" + sim.resolve("cuda13"),
        "-D" + CudaProbe.DEVDIR_PROPERTY + "=" + dev);
    Map<String, String> env = Map.of(CudaCompat.ENV, sim.resolve("compat").toString());

    CudaFaultInjectionTest.Run prepared = CudaFaultInjectionTest.child(env, props, "jcublas-first", "true");
    assertEquals(0, prepared.exit(), prepared.toString());
    assertEquals("ok", prepared.get("jcublas"), prepared.toString());
    assertEquals("cuda:0 (cudasim CPU simulator) [7.0, 10.0, 15.0, 22.0]", prepared.get("backend"), prepared.toString());

    CudaFaultInjectionTest.Run unprepared = CudaFaultInjectionTest.child(env, props, "jcublas-first", "false");
    assertTrue(unprepared.get("jcublas").contains("libcublas.so.12"), "the hazard is real: " + unprepared);
    assertTrue(unprepared.get("backend").contains("Could not initialize class jcuda.jcublas.JCublas2"),
        "and permanent for the JVM: " + unprepared);
  }
}
