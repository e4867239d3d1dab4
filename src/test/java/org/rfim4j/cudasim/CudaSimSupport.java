package org.rfim4j.cudasim;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Assumptions;
import org.rfim4j.backend.cuda.CudaProbe;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Test-side wiring of CUDA for every GPU test: the one place that prepares the native side before any JCuda class
 * initialises. When the system property {@code cudasim.dir} names the simulator's build output (the Maven profile
 * {@code cudasim} sets it), the class initialiser {@link System#load}s the stand-in {@code libcuda.so.1},
 * {@code libcublas.so.12}, {@code libcusolverMg.so.11} and {@code libcusolver.so.11} by absolute path: the dynamic
 * loader then satisfies the {@code DT_NEEDED} entries of JCuda's JNI libraries with the already-loaded stand-ins
 * (matched by soname), so no {@code LD_LIBRARY_PATH} is needed. Without the property, CUDA is whatever
 * {@link CudaProbe} finds (a real GPU, or the simulator presented as an installation, as
 * {@code scripts/device-check --simulator} does), and the initialiser runs {@link CudaProbe#prepareNatives()}: the
 * same preloading as {@code CudaBackend.open()}, including the CUDA 13 compatibility shims on a CUDA-13-only
 * machine. So a test that calls JCublas2 or JCusolver directly works whatever test class runs first: JCublas2's
 * static initialiser never runs before the shims are loaded (a failed one fails for the whole JVM). The main code
 * never knows the simulator exists.
 *
 * <p>Every entry point goes through here: {@link GpuTest} (tag {@code gpu} + {@link Condition}), the auto-detected
 * {@link AutoLoad} extension (before every test class), {@code Dev.init()} and {@code GpuTestSupport}. Tests of
 * simulator-only behaviour (fault injection, scheduling orders, the stand-ins' own checks) call
 * {@link #assumeSimulated()}, which skips them on real hardware saying why.
 */
public final class CudaSimSupport {
    public static final String DIR_PROPERTY = "cudasim.dir";
    /** Load order: the driver first (the BLAS stand-ins look it up by soname), cusolverMg before cusolver. */
    static final String[] LIBRARIES = {"libcuda.so.1", "libcublas.so.12", "libcusolverMg.so.11", "libcusolver.so.11"};
    /** Where the bundle (scripts/bundle) puts the simulator's self-test PTX among the test classes. */
    static final String PTX_RESOURCE = "/org/rfim4j/cudasim/ptx/";

    private static final Path DIR;
    private static final boolean SIMULATED;
    private static final boolean AVAILABLE;
    private static final String REASON;
    /** Non-null when CUDA was found but its native side could not be prepared (e.g. shims missing). */
    private static final String PREPARE_FAILURE;

    static {
        String dir = System.getProperty(DIR_PROPERTY);
        Path d = null;
        boolean sim = false, ok;
        String reason, failure = null;
        if (dir != null && !dir.isBlank()) {
            d = Path.of(dir).toAbsolutePath();
            try {
                // JCuda extracts its JNI libraries to java.io.tmpdir (a per-build folder under target/, see pom.xml)
                Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
                for (String lib : LIBRARIES) System.load(d.resolve(lib).toString());
                sim = true;
                ok = true;
                reason = "CUDA simulator loaded from " + d;
            } catch (Throwable t) {
                ok = false;
                reason = "cannot load the CUDA simulator from " + d + " (" + t + "); build it with sh native-test/cudasim/build.sh " + d;
            }
        } else {
            CudaProbe.Diagnosis probe = CudaProbe.probe();
            ok = probe.available();
            if (ok) {
                reason = "CUDA installation found by the probe (driver " + probe.driver() + ", cuBLAS " + probe.cublas()
                        + (probe.needsCompatShims() ? ", through the CUDA 13 compatibility shims" : "") + ")";
                try {
                    CudaProbe.prepareNatives();
                } catch (RuntimeException e) {
                    failure = "CUDA was found but could not be prepared: " + e.getMessage();
                }
            } else {
                reason = "no GPU and no simulator (-D" + DIR_PROPERTY + " unset; mvn test runs the cudasim profile): "
                        + probe.text().replace('\n', ' ');
            }
        }
        DIR = d;
        SIMULATED = sim;
        AVAILABLE = ok;
        REASON = reason;
        PREPARE_FAILURE = failure;
    }

    private CudaSimSupport() {}

    /**
     * Forces the class initialiser (the stand-ins, or the probe's preloading and shims); call before touching any
     * JCuda class.
     *
     * @throws IllegalStateException when CUDA was found but its native side could not be prepared
     */
    public static void init() {
        if (PREPARE_FAILURE != null) throw new IllegalStateException(PREPARE_FAILURE);
    }

    /** CUDA is usable in this JVM: the simulator is loaded, or the probe found an installation (a real GPU). */
    public static boolean available() { return AVAILABLE; }

    /** The stand-ins are loaded: CUDA calls run on the simulator. */
    public static boolean simulated() { return SIMULATED; }

    public static String reason() { return REASON; }

    /** The simulator's build output ({@code -Dcudasim.dir}), or null. */
    public static Path dir() { return DIR; }

    /** Skips the test unless it runs on the simulator's stand-ins: simulator-only behaviour, say why otherwise. */
    public static void assumeSimulated() {
        Assumptions.assumeTrue(SIMULATED, "simulator-only test (it checks the CUDA simulator's own behaviour, which"
                + " real hardware does not have): this JVM uses " + REASON);
    }

    /** The scheduling order the simulator runs fibers in ({@code CUDASIM_ORDER}): forward, reverse or random. */
    public static String order() {
        String o = System.getenv("CUDASIM_ORDER");
        return o == null || o.isBlank() ? "forward" : o;
    }

    /** Strict stream semantics (CUDASIM_STRICT_STREAMS): created streams queue their work until the host waits. */
    public static boolean strictStreams() {
        String s = System.getenv("CUDASIM_STRICT_STREAMS");
        return SIMULATED && s != null && !s.isBlank() && !s.equals("0");
    }

    public static boolean strict() {
        String s = System.getenv("CUDASIM_STRICT");
        return s != null && !s.isBlank() && !s.equals("0");
    }

    /**
     * PTX text (NUL-terminated, as cuModuleLoadData wants) of one of the simulator's self-test kernel files: from
     * {@code -Dcudasim.ptx.dir}, else {@code <cudasim.dir>/ptx}, else the test classpath ({@value #PTX_RESOURCE}, where
     * the bundle puts it for real GPUs).
     */
    public static byte[] ptx(String name) {
        Path dir = System.getProperty("cudasim.ptx.dir") != null ? Path.of(System.getProperty("cudasim.ptx.dir"))
                : DIR != null ? DIR.resolve("ptx") : null;
        try {
            byte[] b;
            if (dir != null) {
                b = Files.readAllBytes(dir.resolve(name + ".ptx"));
            } else {
                try (InputStream in = CudaSimSupport.class.getResourceAsStream(PTX_RESOURCE + name + ".ptx")) {
                    if (in == null) throw new IllegalStateException("no PTX for " + name + ": not in -Dcudasim.ptx.dir, no -D"
                            + DIR_PROPERTY + ", and no resource " + PTX_RESOURCE + name + ".ptx on the test classpath"
                            + " (scripts/bundle puts it there)");
                    b = in.readAllBytes();
                }
            }
            return Arrays.copyOf(b, b.length + 1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Auto-detected extension (META-INF/services, enabled by the cudasim surefire executions through
     * {@code junit.jupiter.extensions.autodetection.enabled}): loads the stand-ins before every test class, so a gpu
     * test that forgets {@link GpuTest} still gets the simulator instead of an UnsatisfiedLinkError.
     */
    public static final class AutoLoad implements BeforeAllCallback {
        @Override
        public void beforeAll(ExtensionContext context) {
            if (PREPARE_FAILURE == null) init();  // a failure is reported by the tests that use CUDA, not here
        }
    }

    /** JUnit 5 condition: runs the container/test only when CUDA is {@linkplain #available() available}. */
    public static final class Condition implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            return AVAILABLE ? ConditionEvaluationResult.enabled(REASON) : ConditionEvaluationResult.disabled(REASON);
        }
    }
}
