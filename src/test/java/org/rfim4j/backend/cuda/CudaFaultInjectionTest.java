package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rfim4j.cudasim.CudaSimSupport;
import org.rfim4j.cudasim.GpuTest;

/**
 * Failure paths only the simulator can provoke, each in its own JVM ({@link SimChild}) because the simulator's
 * switches are environment variables: CUDA graph capture refused at the probe, or failing later inside a step's
 * capture (a library call refused, cuStreamBeginCapture, cuStreamEndCapture or cuGraphInstantiate failing), and
 * CUDA calls failing one by one while the backend opens. Every time: training completes, eagerly, with exactly the
 * parameters of a run without graphs and one warning; nothing is left behind (live arrays and graph handles zero,
 * and the simulator's exit report, CUDASIM_LEAKS=1, shows no allocation, graph, stream, event, module, primary
 * context reference or cuBLAS/cuSOLVER handle alive). Runs once (in the strict cudasim run).
 */
@GpuTest
class CudaFaultInjectionTest {
  record Run(int exit, Map<String, String> out, String stderr) {
    String get(String key) {
      return out.get(key);
    }

    long warnings() {
      return stderr.lines().filter(l -> l.contains("WARNING: CUDA graphs are off")).count();
    }

    /** The simulator's exit report lines ("[cudasim] exit: ..."), joined. */
    String exitReport() {
      return String.join("\n", stderr.lines().filter(l -> l.startsWith("[cudasim] exit:")).toList());
    }

    @Override
    public String toString() {
      return "exit " + exit + ", out " + out + "\nstderr:\n" + stderr;
    }
  }

  static final Map<String, Future<Run>> RUNS = new LinkedHashMap<>();
  static ExecutorService pool;

  @BeforeAll
  static void launch() {
    CudaSimSupport.assumeSimulated();
    Assumptions.assumeFalse("reverse".equals(CudaSimSupport.order()),
        "the fault scenarios run in their own JVMs once, in the strict cudasim run, not again in the reverse one");
    pool = Executors.newFixedThreadPool(2);
    submit("probe", Map.of("CUDASIM_FAIL_CAPTURE", "end"), "train", "adam,rngd");
    submit("library", Map.of("CUDASIM_FAIL_CAPTURE", "library", "CUDASIM_FAIL_CAPTURE_AFTER", "1"), "train", "adam,rngd");
    submit("instantiate", Map.of("CUDASIM_FAIL_CAPTURE", "instantiate", "CUDASIM_FAIL_CAPTURE_AFTER", "1"), "train",
        "rngd,adam");
    submit("end", Map.of("CUDASIM_FAIL_CAPTURE", "end", "CUDASIM_FAIL_CAPTURE_AFTER", "1"), "train", "adam");
    submit("begin", Map.of("CUDASIM_FAIL", "cuStreamBeginCapture@2"), "train", "adam");
    submit("open", Map.of("CUDASIM_FAIL", OPEN_FAILURES), "open", "9");
  }

  /**
   * Each open attempt fails at the next of these calls (counted per name; open order: stream, modules, cublasCreate,
   * cublasSetStream, workspace allocation, cublasSetWorkspace, cusolverDnCreate, cusolverDnSetStream), the 9th only in
   * its capture probe (an allocation), which turns graphs off instead.
   */
  static final String OPEN_FAILURES = "cuStreamCreate@1,cuModuleLoadData@3,cublasCreate_v2@1,cuMemAlloc@1,"
      + "cublasSetStream_v2@1,cublasSetWorkspace_v2@1,cusolverDnCreate@1,cusolverDnSetStream@1,cuMemAlloc@7";

  static void submit(String name, Map<String, String> env, String... args) {
    RUNS.put(name, pool.submit(() -> child(env, args)));
  }

  @AfterAll
  static void stop() {
    if (pool != null) {
      pool.shutdownNow();
    }
  }

  static Run child(Map<String, String> env, String... args) throws IOException, InterruptedException {
    return child(env, List.of("-D" + CudaSimSupport.DIR_PROPERTY + "=" + CudaSimSupport.dir()), args);
  }

  /** Runs {@link SimChild} with {@code args} in a JVM with these properties and environment (plus CUDASIM_LEAKS=1). */
  static Run child(Map<String, String> env, List<String> props, String... args) throws IOException,
      InterruptedException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx512m", "-cp", cp));
    cmd.addAll(props);
    cmd.add("-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"));
    cmd.add(SimChild.class.getName());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    pb.environment().put("CUDASIM_LEAKS", "1");
    File err = File.createTempFile("simchild", ".err");
    pb.redirectError(err);
    Process p = pb.start();
    String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    boolean done = p.waitFor(180, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    String stderr = Files.readString(err.toPath());
    Files.delete(err.toPath());
    Map<String, String> out = new LinkedHashMap<>();
    for (String l : stdout.split("\n")) {
      int eq = l.indexOf('=');
      if (eq > 0) {
        out.put(l.substring(0, eq), l.substring(eq + 1));
      }
    }
    return new Run(done ? p.exitValue() : -1, out, stderr);
  }

  static Run result(String name) throws Exception {
    return RUNS.get(name).get(200, TimeUnit.SECONDS);
  }

  /** Training finished, eagerly and exactly as without graphs, with one warning and nothing left behind. */
  static void trainedEagerlyWithoutLeaks(Run r, String graphsOffContains) {
    assertEquals(0, r.exit(), r.toString());
    assertEquals("true", r.get("identical"), "graphs (fallen back) and eager runs agree bit for bit: " + r);
    assertEquals("0", r.get("graphLaunches"), r.toString());
    assertNotNull(r.get("graphsOff"), r.toString());
    assertTrue(r.get("graphsOff").contains(graphsOffContains), r.get("graphsOff"));
    assertEquals(1, r.warnings(), "one warning: " + r.stderr());
    assertEquals("0", r.get("liveArrays"), r.toString());
    assertEquals("0", r.get("liveGraphHandles"), r.toString());
    noLeaks(r);
  }

  static void noLeaks(Run r) {
    String report = r.exitReport();
    assertTrue(report.contains("libcuda allocations=0 bytes=0 graphs=0 graph_execs=0 streams=0 events=0 pinned=0"
        + " modules=0 primary_refs=0"), "simulator exit report: " + report + "\n" + r);
    assertTrue(report.contains("libcublas.so.12 handles=0"), report);
    assertTrue(report.contains("libcusolver.so.11 handles=0"), report);
  }

  @Test
  void captureRefusedAtTheProbeTrainsEagerly() throws Exception {
    Run r = result("probe");
    assertTrue(r.get("graphsOffAtOpen").startsWith("the capture probe failed"), r.toString());
    trainedEagerlyWithoutLeaks(r, "the capture probe failed");
  }

  @Test
  void libraryCallRefusedInsideAStepCaptureFallsBack() throws Exception {
    Run r = result("library");
    assertEquals("null", r.get("graphsOffAtOpen"), "the probe's capture worked");
    trainedEagerlyWithoutLeaks(r, "a launch or library call inside the capture failed");
  }

  @Test
  void instantiationFailureFallsBack() throws Exception {
    trainedEagerlyWithoutLeaks(result("instantiate"), "cuGraphInstantiate failed");
  }

  @Test
  void endCaptureFailureFallsBack() throws Exception {
    trainedEagerlyWithoutLeaks(result("end"), "cuStreamEndCapture failed");
  }

  @Test
  void beginCaptureFailureFallsBack() throws Exception {
    trainedEagerlyWithoutLeaks(result("begin"), "cuStreamBeginCapture failed");
  }

  @Test
  void failedOpensLeaveNothingBehind() throws Exception {
    Run r = result("open");
    assertEquals(0, r.exit(), r.toString());
    // cuStreamCreate, the 3rd module, cublasCreate, cublasSetStream, the workspace's cuMemAlloc, cublasSetWorkspace,
    // cusolverDnCreate, cusolverDnSetStream
    String[] want = {"CUDA_ERROR_UNKNOWN", "loading CUDA module", "CUBLAS_STATUS_NOT_INITIALIZED",
        "CUBLAS_STATUS_INTERNAL_ERROR", "cublas-workspace", "CUBLAS_STATUS_INTERNAL_ERROR",
        "CUSOLVER_STATUS_NOT_INITIALIZED", "CUSOLVER_STATUS_INTERNAL_ERROR"};
    for (int i = 0; i < want.length; i++) {
      String got = r.get("open" + (i + 1));
      assertNotNull(got, r.toString());
      assertTrue(got.startsWith("failed") && got.contains(want[i]), "attempt " + (i + 1) + ": " + got);
    }
    assertTrue(r.get("open9").startsWith("opened, graphs off: the capture probe failed"), r.toString());
    assertEquals("opened, graphs on", r.get("final"), r.toString());
    noLeaks(r);
  }
}
