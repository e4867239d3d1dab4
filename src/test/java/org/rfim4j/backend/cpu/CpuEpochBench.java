package org.rfim4j.backend.cpu;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.rfim4j.backend.Backend;
import org.rfim4j.data.DataDirs;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Split;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.train.Trainer;
import org.rfim4j.train.TrainerConfig;

/**
 * One MNIST epoch of the paper network (784-80-80-80-10 ReLU, batch 50) per optimizer on a one-thread
 * CPU backend, timed by the thread's CPU time so that other load on the machine barely moves it (not a
 * test; run by hand with {@code OPENBLAS_NUM_THREADS=1} so that BLAS work is on the timed thread):
 * {@code java -cp target/classes:target/test-classes:<deps> org.rfim4j.backend.cpu.CpuEpochBench
 * [java|netlib|both] [sgd,adam,rngd] [repeats]}. Prints CPU seconds per epoch (median over repeats),
 * the CPU time per backend operation and the bytes the training thread allocated.
 */
public final class CpuEpochBench {
  private CpuEpochBench() {}

  private static final com.sun.management.ThreadMXBean MX =
      (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();

  /** A backend proxy adding each method's thread CPU time into {@code nanos}. */
  private static Backend timed(Backend b, Map<String, long[]> nanos) {
    return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
        (proxy, m, args) -> {
          long t0 = MX.getCurrentThreadCpuTime();
          try {
            return m.invoke(b, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          } finally {
            long[] acc = nanos.computeIfAbsent(m.getName(), k -> new long[2]);
            acc[0] += MX.getCurrentThreadCpuTime() - t0;
            acc[1]++;
          }
        });
  }

  public static void main(String[] args) {
    String paths = args.length > 0 ? args[0] : "both";
    String[] opts = (args.length > 1 ? args[1] : "sgd,adam,rngd").split(",");
    int repeats = args.length > 2 ? Integer.parseInt(args[2]) : 1;
    Split mnist = Datasets.load("mnist", DataDirs.resolve(null));
    List<CpuBackend.GemmPath> ps = new ArrayList<>();
    if (!paths.equals("netlib")) {
      ps.add(CpuBackend.GemmPath.JAVA);
    }
    if (!paths.equals("java")) {
      ps.add(CpuBackend.GemmPath.NETLIB);
    }
    Map<String, Double> epoch = new TreeMap<>();
    for (int rep = 0; rep < repeats; rep++) {
      for (CpuBackend.GemmPath p : ps) {
        for (String o : opts) {
          try (CpuBackend be = new CpuBackend(1, p)) {
            Map<String, long[]> nanos = new TreeMap<>();
            Backend tb = timed(be, nanos);
            OptimizerSpec spec = o.equals("sgd") ? OptimizerSpec.sgd(0.1)
                : o.equals("adam") ? OptimizerSpec.adam(1e-3) : OptimizerSpec.rngd(RngdConfig.defaults(0.1));
            TrainerConfig tc = TrainerConfig.of(1, 50, 1);
            try (Mlp model = new Mlp(tb, MlpConfig.paper(Architecture.PLAIN, 1), Math.max(50, tc.evalBatch()));
                Optimizer opt = spec.create(model)) {
              Trainer t = new Trainer(model, opt, tc);
              long tid = Thread.currentThread().getId();
              long a0 = MX.getThreadAllocatedBytes(tid);
              long c0 = MX.getCurrentThreadCpuTime();
              long w0 = System.nanoTime();
              double val = t.fit(mnist.train(), mnist.validation()).get(0).valError();
              double cpu = (MX.getCurrentThreadCpuTime() - c0) / 1e9;
              double wall = (System.nanoTime() - w0) / 1e9;
              long alloc = MX.getThreadAllocatedBytes(tid) - a0;
              String key = p + " " + o;
              epoch.merge(key, cpu, Math::min);
              System.out.printf(Locale.ROOT, "%-6s %-4s epoch: %.2f s CPU (%.2f s wall), val err %.2f%%,"
                  + " allocated %.1f MB (native metrics %s, native inverse %s)%n", p, o, cpu, wall, 100 * val,
                  alloc / 1e6, be.nativeMetricUpdates(), be.nativeInverse());
              for (Map.Entry<String, long[]> e : nanos.entrySet()) {
                if (e.getValue()[0] > 5_000_000L) {
                  System.out.printf(Locale.ROOT, "    %-24s %7d calls %8.3f s %9.1f us/call%n", e.getKey(),
                      e.getValue()[1], e.getValue()[0] / 1e9, e.getValue()[0] / 1e3 / e.getValue()[1]);
                }
              }
            }
          }
        }
      }
    }
    System.out.println("best CPU seconds per epoch: " + epoch);
    for (CpuBackend.GemmPath p : ps) {
      Double r = epoch.get(p + " rngd");
      Double a = epoch.get(p + " adam");
      if (r != null && a != null) {
        System.out.printf(Locale.ROOT, "%s RNGD / Adam = %.2f%n", p, r / a);
      }
    }
  }
}
