package org.rfim4j.backend.cuda;

import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Decides whether the CUDA backend can run on this machine without loading any JCuda class or native
 * library: it only looks at files. It never throws.
 *
 * <p>Lookup order for the CUDA driver ({@code libcuda.so.1}) and the CUDA libraries: the directory in the
 * system property {@code rfim4j.cuda.libdir}, then the environment variable {@code RFIM4J_CUDA_LIBDIR}, then
 * every directory of {@code LD_LIBRARY_PATH}, then {@code /usr/lib/x86_64-linux-gnu}, {@code /usr/lib64},
 * {@code /usr/local/cuda/lib64}, {@code /usr/local/cuda/compat}, {@code /lib/x86_64-linux-gnu}. Devices are
 * looked for as {@code /dev/nvidia0..N}. Libraries: {@code libcublas.so.12} or {@code .13},
 * {@code libcusolver.so.11} or {@code .12}; when only the CUDA 13 generation is found the backend needs
 * the compatibility shims (see docs/cuda.md and {@link CudaCompat}).
 */
public final class CudaProbe {
  private CudaProbe() {}

  /** System property naming an extra library directory searched first. */
  public static final String LIBDIR_PROPERTY = "rfim4j.cuda.libdir";
  /** Environment variable naming an extra library directory searched after the property. */
  public static final String LIBDIR_ENV = "RFIM4J_CUDA_LIBDIR";
  /**
   * System property naming the directory searched for {@code nvidia<N>} device nodes instead of {@code /dev}:
   * only for running the CLI on the CUDA simulator (docs/cudasim.md), which has no device node.
   */
  public static final String DEVDIR_PROPERTY = "rfim4j.cuda.devdir";

  static final String[] STANDARD_DIRS = {
    "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/cuda/lib64", "/usr/local/cuda/compat",
    "/lib/x86_64-linux-gnu"
  };

  /**
   * The probe's result.
   *
   * @param available whether the CUDA backend can be opened (driver, device and libraries found)
   * @param driver path of libcuda.so.1, or null
   * @param cublas path of the cuBLAS library found, or null
   * @param cusolver path of the cuSOLVER library found, or null
   * @param needsCompatShims true when only CUDA 13 cuBLAS/cuSOLVER were found (JCuda 12.6 needs the shims)
   * @param searched the directories searched, in order
   * @param text a multi-line human-readable diagnosis (what was found, what is missing, where it looked,
   *     what to do)
   */
  public record Diagnosis(boolean available, String driver, String cublas, String cusolver,
      boolean needsCompatShims, List<String> searched, String text) {
    @Override
    public String toString() {
      return text;
    }
  }

  /** Probes this machine. Never throws and never loads native code. */
  public static Diagnosis probe() {
    try {
      return probe(System.getProperty(LIBDIR_PROPERTY), System.getenv(LIBDIR_ENV),
          System.getenv("LD_LIBRARY_PATH"), new File(System.getProperty(DEVDIR_PROPERTY, "/dev")));
    } catch (RuntimeException | Error e) {  // defensive: e.g. a SecurityManager refusing getenv
      return new Diagnosis(false, null, null, null, false, List.of(),
          "CUDA unavailable: the probe itself failed (" + e + ")");
    }
  }

  /**
   * Prepares the native side exactly as {@link CudaBackend#open()} does, without loading any JCuda class: probes,
   * and when CUDA is available preloads the CUDA 12 libraries it found, or loads the CUDA 13 compatibility shims
   * when only CUDA 13 is installed ({@code rfim4j.cuda.compat} / {@code RFIM4J_CUDA_COMPAT}). Call it first in
   * a program or test that uses JCuda's cuBLAS/cuSOLVER bindings directly before opening a backend: JCublas2's
   * and JCusolver's static initialisers need the shims already loaded on a CUDA-13-only machine, and one that
   * fails, fails for the whole JVM. Idempotent.
   *
   * @return the probe's diagnosis
   * @throws IllegalStateException when the shims are needed but not configured or not loadable
   */
  public static Diagnosis prepareNatives() {
    Diagnosis d = probe();
    if (d.available()) {
      CudaCompat.prepare(d);
    }
    return d;
  }

  /** The directories searched, in the documented order (duplicates and blanks removed). */
  static List<String> searchPath(String libdirProperty, String libdirEnv, String ldLibraryPath) {
    Set<String> dirs = new LinkedHashSet<>();
    addDir(dirs, libdirProperty);
    addDir(dirs, libdirEnv);
    if (ldLibraryPath != null) {
      for (String d : ldLibraryPath.split(":")) {
        addDir(dirs, d);
      }
    }
    for (String d : STANDARD_DIRS) {
      addDir(dirs, d);
    }
    return new ArrayList<>(dirs);
  }

  private static void addDir(Set<String> dirs, String d) {
    if (d != null && !d.isBlank()) {
      dirs.add(d.trim());
    }
  }

  /** The first existing file named {@code name} in the directories, or null. */
  static String find(List<String> dirs, String name) {
    for (String d : dirs) {
      File f = new File(d, name);
      if (f.isFile()) {
        return f.getAbsolutePath();
      }
    }
    return null;
  }

  /** Testable core: the lookup inputs are parameters. Never throws. */
  static Diagnosis probe(String libdirProperty, String libdirEnv, String ldLibraryPath, File devDir) {
    List<String> dirs = searchPath(libdirProperty, libdirEnv, ldLibraryPath);
    StringBuilder t = new StringBuilder();
    String os = System.getProperty("os.name", "?").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "?");
    if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
      t.append("CUDA unavailable: the CUDA backend supports Linux x86-64 only (this is ")
          .append(os).append(' ').append(arch).append(").\n");
      return new Diagnosis(false, null, null, null, false, dirs, t.toString().strip());
    }
    String driver = find(dirs, "libcuda.so.1");
    List<String> devices = new ArrayList<>();
    File[] devFiles = devDir.listFiles((d, n) -> n.matches("nvidia\\d+"));
    if (devFiles != null) {
      for (File f : devFiles) {
        devices.add(f.getAbsolutePath());
      }
    }
    String cublas12 = find(dirs, "libcublas.so.12");
    String cublas13 = find(dirs, "libcublas.so.13");
    String cusolver11 = find(dirs, "libcusolver.so.11");
    String cusolver12 = find(dirs, "libcusolver.so.12");
    String cublas = cublas12 != null ? cublas12 : cublas13;
    String cusolver = cusolver11 != null ? cusolver11 : cusolver12;
    boolean shims = (cublas12 == null && cublas13 != null) || (cusolver11 == null && cusolver12 != null);

    List<String> problems = new ArrayList<>();
    if (driver == null) {
      problems.add("no NVIDIA driver: libcuda.so.1 not found");
    }
    if (devices.isEmpty()) {
      problems.add("no NVIDIA device: no " + new File(devDir, "nvidia0").getPath() + " (no GPU, or the driver"
          + " is not loaded / the container was started without GPU access)");
    }
    if (cublas == null) {
      problems.add("missing library: libcublas.so.12 (CUDA 12) or libcublas.so.13 (CUDA 13) not found");
    }
    if (cusolver == null) {
      problems.add("missing library: libcusolver.so.11 (CUDA 12) or libcusolver.so.12 (CUDA 13) not found");
    }
    boolean ok = problems.isEmpty();
    if (ok) {
      t.append("CUDA available: driver ").append(driver).append(", ").append(devices.size())
          .append(" device file(s) ").append(devices).append('\n');
      t.append("  cuBLAS:   ").append(cublas).append('\n');
      t.append("  cuSOLVER: ").append(cusolver).append('\n');
      if (shims) {
        t.append("  only CUDA 13 cuBLAS/cuSOLVER found: JCuda 12.6 will run through the compatibility shims"
            + " (property rfim4j.cuda.compat / env RFIM4J_CUDA_COMPAT, see docs/cuda.md)\n");
      }
    } else {
      t.append("CUDA unavailable:\n");
      for (String p : problems) {
        t.append("  - ").append(p).append('\n');
      }
      if (driver != null) {
        t.append("  driver found: ").append(driver).append('\n');
      }
      if (cublas != null) {
        t.append("  cuBLAS found: ").append(cublas).append('\n');
      }
      if (cusolver != null) {
        t.append("  cuSOLVER found: ").append(cusolver).append('\n');
      }
      t.append("  searched (in order): ").append(String.join(", ", dirs)).append('\n');
      t.append("  fix: install the NVIDIA driver and the CUDA 12 or 13 runtime libraries, or point -D")
          .append(LIBDIR_PROPERTY).append("=DIR (or ").append(LIBDIR_ENV)
          .append(", or LD_LIBRARY_PATH) at the directory holding them; use --device cpu meanwhile.\n");
    }
    return new Diagnosis(ok, driver, cublas, cusolver, shims, List.copyOf(dirs), t.toString().strip());
  }
}
