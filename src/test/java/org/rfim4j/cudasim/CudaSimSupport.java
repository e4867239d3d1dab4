package org.rfim4j.cudasim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Test-side wiring of the CUDA simulator (native-test/cudasim). When the system property {@code cudasim.dir} names
 * the simulator's build output (the Maven profile {@code cudasim} sets it), the class initialiser
 * {@link System#load}s the stand-in {@code libcuda.so.1}, {@code libcublas.so.12}, {@code libcusolverMg.so.11} and
 * {@code libcusolver.so.11} by absolute path. That must happen before any JCuda class initialises: the dynamic loader
 * then satisfies the {@code DT_NEEDED} entries of JCuda's JNI libraries with the already-loaded stand-ins (matched by
 * soname), so no {@code LD_LIBRARY_PATH} is needed. Without the property, a present {@code /dev/nvidia0} means a real
 * GPU. The main code never knows the simulator exists.
 *
 * <p>GPU tests use {@link GpuTest} (tag {@code gpu} + {@link Condition}); tests of simulator-only behaviour (fault
 * injection, scheduling orders) also call {@link #assumeSimulated()}.
 */
public final class CudaSimSupport {
    public static final String DIR_PROPERTY = "cudasim.dir";
    /** Load order: the driver first (the BLAS stand-ins look it up by soname), cusolverMg before cusolver. */
    static final String[] LIBRARIES = {"libcuda.so.1", "libcublas.so.12", "libcusolverMg.so.11", "libcusolver.so.11"};

    private static final Path DIR;
    private static final boolean SIMULATED;
    private static final boolean AVAILABLE;
    private static final String REASON;

    static {
        String dir = System.getProperty(DIR_PROPERTY);
        Path d = null;
        boolean sim = false, ok;
        String reason;
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
        } else if (Files.exists(Path.of("/dev/nvidia0"))) {
            ok = true;
            reason = "NVIDIA device present (/dev/nvidia0)";
        } else {
            ok = false;
            reason = "no GPU (/dev/nvidia0 missing) and no simulator (-D" + DIR_PROPERTY + " unset; mvn test runs the cudasim profile)";
        }
        DIR = d;
        SIMULATED = sim;
        AVAILABLE = ok;
        REASON = reason;
    }

    private CudaSimSupport() {}

    /** Forces the class initialiser (loading of the stand-ins); call before touching any JCuda class. */
    public static void init() {}

    /** CUDA is usable in this JVM: the simulator is loaded, or a real device is present. */
    public static boolean available() { return AVAILABLE; }

    /** The stand-ins are loaded: CUDA calls run on the simulator. */
    public static boolean simulated() { return SIMULATED; }

    public static String reason() { return REASON; }

    /** The simulator's build output ({@code -Dcudasim.dir}), or null. */
    public static Path dir() { return DIR; }

    public static void assumeSimulated() {
        Assumptions.assumeTrue(SIMULATED, "needs the CUDA simulator: " + REASON);
    }

    /** The scheduling order the simulator runs fibers in ({@code CUDASIM_ORDER}): forward, reverse or random. */
    public static String order() {
        String o = System.getenv("CUDASIM_ORDER");
        return o == null || o.isBlank() ? "forward" : o;
    }

    public static boolean strict() {
        String s = System.getenv("CUDASIM_STRICT");
        return s != null && !s.isBlank() && !s.equals("0");
    }

    /** PTX text (NUL-terminated, as cuModuleLoadData wants) of a kernels file built into {@code <cudasim.dir>/ptx}. */
    public static byte[] ptx(String name) {
        Path dir = System.getProperty("cudasim.ptx.dir") != null ? Path.of(System.getProperty("cudasim.ptx.dir"))
                : DIR != null ? DIR.resolve("ptx") : null;
        if (dir == null) throw new IllegalStateException("no PTX directory: set -Dcudasim.ptx.dir or -D" + DIR_PROPERTY);
        try {
            byte[] b = Files.readAllBytes(dir.resolve(name + ".ptx"));
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
            init();
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
