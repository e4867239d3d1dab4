package org.rfim4j.backend.cuda;

import java.io.File;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads the CUDA 13 compatibility shims (native/cuda13-compat, docs/cuda.md) so that JCublas 12.6 and
 * JCusolver 11.7, whose JNI libraries need {@code libcublas.so.12} and {@code libcusolver.so.11}, run on a
 * machine that only has {@code libcublas.so.13} and {@code libcusolver.so.12}. No JCuda class is touched;
 * this must run before {@code JCublas2}/{@code JCusolver} initialise (a failed static init is permanent).
 *
 * <p>Shim directory lookup: system property {@code rfim4j.cuda.compat}, then environment variable
 * {@code RFIM4J_CUDA_COMPAT}. The directory must hold {@code libcublas.so.12}, {@code libcusolverMg.so.11}
 * and {@code libcusolver.so.11} as built by {@code sh native/cuda13-compat/build.sh DIR}; they are loaded in
 * that order. Before them, the real CUDA 13 libraries found by {@link CudaProbe} are preloaded by absolute
 * path (nvJitLink, cublasLt, cublas, cusparse, cusolver, cusolverMg, whichever exist in that directory), so
 * that the shims' {@code dlopen("libcublas.so.13")} finds them even outside the loader's default path.
 */
final class CudaCompat {
  private CudaCompat() {}

  static final String PROPERTY = "rfim4j.cuda.compat";
  static final String ENV = "RFIM4J_CUDA_COMPAT";
  static final String[] SHIMS = {"libcublas.so.12", "libcusolverMg.so.11", "libcusolver.so.11"};
  static final String[] CUDA13_LIBS = {
    "libnvJitLink.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcusparse.so.12", "libcusolver.so.12",
    "libcusolverMg.so.12"
  };
  /** CUDA 12 libraries the JNI libraries need directly or through cuSOLVER, in dependency order. */
  static final String[] CUDA12_LIBS = {
    "libnvJitLink.so.12", "libcublasLt.so.12", "libcublas.so.12", "libcusparse.so.12", "libcusolverMg.so.11",
    "libcusolver.so.11"
  };

  private static boolean loaded;

  /**
   * Loads the driver and the CUDA 12 libraries the probe found by absolute path (best effort), so that the
   * JNI libraries' NEEDED entries are satisfied even when the directory (e.g. from rfim4j.cuda.libdir) is
   * not on the loader's search path. Failures are left for JCuda's own loading to report.
   */
  static void preloadCuda12(CudaProbe.Diagnosis d) {
    tryLoad(d.driver());
    for (String real : new String[] {d.cublas(), d.cusolver()}) {
      if (real != null) {
        File parent = new File(real).getParentFile();
        for (String lib : CUDA12_LIBS) {
          File f = new File(parent, lib);
          if (f.isFile()) {
            tryLoad(f.getAbsolutePath());
          }
        }
      }
    }
  }

  private static void tryLoad(String path) {
    if (path == null) {
      return;
    }
    try {
      System.load(path);
    } catch (UnsatisfiedLinkError | SecurityException e) {
      // reported later, with context, if JCuda cannot load either
    }
  }

  /** The configured shim directory, or null. */
  static String shimDir() {
    String d = System.getProperty(PROPERTY);
    if (d == null || d.isBlank()) {
      d = System.getenv(ENV);
    }
    return d == null || d.isBlank() ? null : d.trim();
  }

  /**
   * With a probe diagnosis: preloads the CUDA 12 libraries it found, or, when it found only CUDA 13 ones,
   * loads the shims (required then). Without one ({@link CudaBackend#openDevice}): loads the shims only if a
   * shim directory is configured. Idempotent once shims are loaded.
   *
   * @throws IllegalStateException when shims are needed but not configured or not loadable
   */
  static synchronized void prepare(CudaProbe.Diagnosis diagnosis) {
    if (loaded) {
      return;
    }
    String dir = shimDir();
    boolean needed = diagnosis != null && diagnosis.needsCompatShims();
    if (diagnosis != null && !needed) {
      preloadCuda12(diagnosis);  // CUDA 12 libraries present: no shims, even if a shim directory is set
      return;
    }
    if (dir == null) {
      if (needed) {
        throw new IllegalStateException("only CUDA 13 cuBLAS/cuSOLVER were found (" + diagnosis.cublas() + ", "
            + diagnosis.cusolver() + "), but JCuda 12.6 needs libcublas.so.12 and libcusolver.so.11.\n"
            + "  fix: build the forwarding shims with `sh native/cuda13-compat/build.sh DIR` and run with -D"
            + PROPERTY + "=DIR (or " + ENV + "=DIR, or put DIR first on LD_LIBRARY_PATH); see docs/cuda.md");
      }
      return;
    }
    List<String> problems = new ArrayList<>();
    if (diagnosis != null) {
      tryLoad(diagnosis.driver());
      for (String real : new String[] {diagnosis.cublas(), diagnosis.cusolver()}) {
        if (real != null && (real.endsWith(".so.13") || real.endsWith(".so.12"))) {
          File parent = new File(real).getParentFile();
          for (String lib : CUDA13_LIBS) {
            File f = new File(parent, lib);
            if (f.isFile()) {
              try {
                System.load(f.getAbsolutePath());
              } catch (UnsatisfiedLinkError e) {
                problems.add(f + ": " + e.getMessage());
              }
            }
          }
        }
      }
    }
    for (String shim : SHIMS) {
      File f = new File(dir, shim);
      if (!f.isFile()) {
        throw new IllegalStateException("CUDA 13 compatibility shim " + f + " not found (from " + PROPERTY + "/"
            + ENV + "); build it with `sh native/cuda13-compat/build.sh " + dir + "`");
      }
      try {
        System.load(f.getAbsolutePath());
      } catch (UnsatisfiedLinkError e) {
        throw new IllegalStateException("cannot load CUDA 13 compatibility shim " + f + ": " + e.getMessage()
            + (problems.isEmpty() ? "" : "\n  (preloading CUDA 13 libraries failed: " + problems + ")"), e);
      }
    }
    loaded = true;
  }
}
