package org.rfim4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.backend.BackendProvider;
import org.rfim4j.data.DataDirs;
import org.rfim4j.data.Datasets;
import org.rfim4j.io.Memory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code rfim4j doctor}: what this machine offers rfim4j, and why a device or dataset is not usable: the JVM
 * and its heap, the CPU backend's BLAS and LAPACK, the CUDA probe's full diagnosis (what it found, where it
 * looked, what to do), and the datasets in the data directory. It changes nothing and always exits 0.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
    description = "Diagnose this machine: JVM and heap, CPU BLAS/LAPACK, GPU (the CUDA probe's findings), datasets.")
public final class DoctorCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--data-dir", description = "dataset directory (default: $RFIM4J_DATA, else ./data)")
  Path dataDir;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Runtime rt = Runtime.getRuntime();
    out.println("java: " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + "), "
        + rt.availableProcessors() + " processors, max heap " + Memory.human(rt.maxMemory())
        + " (-Xmx; ./rfim4j takes RFIM4J_JAVA_OPTS)");
    try (CpuBackend cpu = new CpuBackend()) {
      out.println("cpu backend: " + cpu.name() + (cpu.nativeInverse() ? ", native LAPACK" : ", Java LAPACK")
          + (cpu.gemmPath() == CpuBackend.GemmPath.NETLIB && !cpu.nativeInverse()
              ? " (install libopenblas0-pthread for native BLAS and LAPACK)" : ""));
    } catch (RuntimeException | LinkageError e) {
      out.println("cpu backend: cannot start: " + e.getMessage());
    }
    // GPU backends come through their providers (the CUDA probe's diagnosis; no native code is loaded)
    boolean any = false;
    for (BackendProvider p : ServiceLoader.load(BackendProvider.class, DoctorCommand.class.getClassLoader())) {
      any = true;
      BackendProvider.Availability a = p.availability();
      out.println("gpu (" + p.name() + "): " + (a.available() ? "usable (--device " + p.name() + " or auto)"
          : "not usable (--device auto runs on the CPU)"));
      a.diagnosis().lines().forEach(l -> out.println("  " + l));
    }
    if (!any) {
      out.println("gpu: no GPU backend on the class path (META-INF/services/org.rfim4j.backend.BackendProvider)");
    }
    Path dir = DataDirs.resolve(dataDir);
    out.println("data: " + dir.toAbsolutePath().normalize());
    for (String name : Datasets.NAMES) {
      String state;
      try {
        state = "present, " + Datasets.shape(name, dir) + " (train and test files)";
      } catch (RuntimeException e) {
        state = Main.firstLine(e.getMessage());
      }
      out.println("  " + name + ": " + state);
    }
    out.flush();
    return 0;
  }
}
