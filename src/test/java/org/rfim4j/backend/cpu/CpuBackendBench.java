package org.rfim4j.backend.cpu;

import dev.ludovic.netlib.blas.BLAS;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import org.rfim4j.backend.DeviceArray;

/**
 * A rough micro-benchmark of the CPU backend at the paper's shapes (not a test; run by hand):
 * {@code java -cp target/classes:target/test-classes:<netlib jar> org.rfim4j.backend.cpu.CpuBackendBench}.
 * Single-threaded timings use thread CPU time, multi-threaded ones wall time; run with
 * {@code OPENBLAS_NUM_THREADS=1} so that native BLAS work is on the timed thread. Prints the 10th-percentile time (robust to other load on the machine) of each operation for the Java GEMM path on 1 and N threads and for netlib.
 */
public final class CpuBackendBench {
  private CpuBackendBench() {}

  private static final java.lang.management.ThreadMXBean MX =
      java.lang.management.ManagementFactory.getThreadMXBean();

  /** Single-threaded runs are timed by the thread's CPU time, which other load on the machine barely moves. */
  private static boolean cpuClock;

  private static long now() {
    return cpuClock ? MX.getCurrentThreadCpuTime() : System.nanoTime();
  }

  private static double fastMicros(Runnable r, int reps) {
    for (int i = 0; i < Math.max(3, reps / 5); i++) {
      r.run();
    }
    double[] t = new double[reps];
    for (int i = 0; i < reps; i++) {
      long t0 = now();
      r.run();
      t[i] = (now() - t0) / 1e3;
    }
    Arrays.sort(t);
    return t[reps / 10];
  }

  private static DeviceArray rnd(CpuBackend b, Random r, int... shape) {
    DeviceArray a = b.allocate(shape);
    double[] x = new double[(int) a.size()];
    for (int i = 0; i < x.length; i++) {
      x[i] = r.nextDouble() - 0.5;
    }
    b.upload(a, x);
    return a;
  }

  public static void main(String[] args) {
    int reps = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    System.out.println("BLAS implementation: " + BLAS.getInstance().getClass().getName());
    int nproc = Runtime.getRuntime().availableProcessors();
    CpuBackend[] backends = {
      new CpuBackend(1, CpuBackend.GemmPath.JAVA), new CpuBackend(nproc, CpuBackend.GemmPath.JAVA),
      new CpuBackend(1, CpuBackend.GemmPath.NETLIB)
    };
    String[] names = {"java x1", "java x" + nproc, "netlib x1"};
    // {m, n, k, transA, transB}
    int[][] shapes = {
      {50, 80, 785, 0, 0}, {50, 80, 81, 0, 0}, {50, 10, 81, 0, 0},
      {785, 80, 50, 1, 0}, {81, 80, 50, 1, 0},
      {50, 784, 80, 0, 1}, {50, 80, 80, 0, 1}
    };
    for (int[] s : shapes) {
      StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "gemm %s%s %4d x %4d x %4d:",
          s[3] == 1 ? "T" : "N", s[4] == 1 ? "T" : "N", s[0], s[1], s[2]));
      for (int bi = 0; bi < backends.length; bi++) {
        CpuBackend be = backends[bi];
        cpuClock = be.threads() == 1;
        Random r = new Random(1);
        boolean ta = s[3] == 1;
        boolean tb = s[4] == 1;
        DeviceArray a = ta ? rnd(be, r, s[2], s[0]) : rnd(be, r, s[0], s[2]);
        DeviceArray b = tb ? rnd(be, r, s[1], s[2]) : rnd(be, r, s[2], s[1]);
        DeviceArray c = rnd(be, r, s[0], s[1]);
        double us = fastMicros(() -> be.gemm(ta, tb, 1.0, a, b, 0.0, c), reps);
        double gflops = 2.0 * s[0] * s[1] * s[2] / us / 1e3;
        line.append(String.format(Locale.ROOT, "  %s %8.1f us (%5.2f GF/s)", names[bi], us, gflops));
        a.close();
        b.close();
        c.close();
      }
      System.out.println(line);
    }
    for (int bi : new int[] {0, 2, 1}) {
      CpuBackend be = backends[bi];
      cpuClock = be.threads() == 1;
      Random r = new Random(2);
      DeviceArray h = rnd(be, r, 50, 80);
      DeviceArray nu = rnd(be, r, 50, 80);
      DeviceArray g = be.allocate(80, 81, 81);
      DeviceArray x = rnd(be, r, 50, 784);
      DeviceArray gs = be.allocate(785, 785);
      be.addDiagonal(g, 1);
      be.addDiagonal(gs, 1);
      DeviceArray gi = be.allocate(80, 81, 81);
      DeviceArray gsi = be.allocate(785, 785);
      DeviceArray grad = rnd(be, r, 81, 80);
      DeviceArray out = be.allocate(81, 80);
      double[] eps = new double[80];
      Arrays.fill(eps, 1e-4);
      System.out.printf(Locale.ROOT, "%s: perNeuronMetricUpdate 50x80 m=80 %8.1f us%n", names[bi],
          fastMicros(() -> be.perNeuronMetricUpdate(h, nu, 0.005, g), reps));
      System.out.printf(Locale.ROOT, "%s: sharedMetricUpdate 50x784 %8.1f us%n", names[bi],
          fastMicros(() -> be.sharedMetricUpdate(x, 0.005, gs), reps));
      System.out.printf(Locale.ROOT, "%s: batchedInverse 80x81x81 %8.1f us%n", names[bi],
          fastMicros(() -> be.batchedInverse(g, eps, 0, gi), Math.max(5, reps / 10)));
      System.out.printf(Locale.ROOT, "%s: batchedInverse 785x785 %8.1f us%n", names[bi],
          fastMicros(() -> be.batchedInverse(gs, new double[] {1e-4}, 0, gsi), Math.max(5, reps / 20)));
      System.out.printf(Locale.ROOT, "%s: perNeuronPrecondition 81x80 %8.1f us%n", names[bi],
          fastMicros(() -> be.perNeuronPrecondition(gi, grad, -0.1, 1.0, out), reps));
    }
    // netlib alternative for the per-neuron update: scaled copy + dgemm per neuron (one thread)
    {
      cpuClock = true;
      Random r = new Random(3);
      int bsz = 50;
      int d = 81;
      int m = 80;
      double[] ht = new double[bsz * d];
      double[] nu = new double[bsz * m];
      for (int i = 0; i < ht.length; i++) {
        ht[i] = r.nextDouble();
      }
      for (int i = 0; i < nu.length; i++) {
        nu[i] = r.nextDouble();
      }
      double[] s = new double[bsz * d];
      double[] g = new double[m * d * d];
      BLAS blas = BLAS.getInstance();
      double us = fastMicros(() -> {
        for (int i = 0; i < m; i++) {
          for (int k = 0; k < bsz; k++) {
            double w = Math.sqrt(nu[k * m + i]);
            for (int j = 0; j < d; j++) {
              s[k * d + j] = w * ht[k * d + j];
            }
          }
          // row-major S (B x D) is column-major S^T (D x B): C = S^T S = (S^T)(S^T)^T
          // (netlib's Java dsyrk needs f2j, which is not on the class path, so dgemm)
          blas.dgemm("N", "T", d, d, bsz, 0.005 / bsz, s, 0, d, s, 0, d, 0.995, g, i * d * d, d);
        }
      }, reps);
      System.out.printf(Locale.ROOT, "netlib x1: per-neuron scaled copy + dgemm %8.1f us%n", us);
    }
    for (CpuBackend b : backends) {
      b.close();
    }
  }
}
