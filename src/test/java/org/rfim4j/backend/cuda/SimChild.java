package org.rfim4j.backend.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.rfim4j.cudasim.CudaSimSupport;
import org.rfim4j.data.Dataset;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.optim.Adam;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.Rngd;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.testutil.Synthetic;
import org.rfim4j.train.Trainer;
import org.rfim4j.train.TrainerConfig;

/**
 * A separate JVM for {@link CudaFaultInjectionTest}: the simulator's fault switches are environment variables read
 * when it loads, so each scenario runs here with its own environment and prints {@code key=value} lines.
 *
 * <ul>
 *   <li>{@code train adam,rngd}: trains each optimizer twice on one backend, CUDA graphs on (where a capture
 *       failure falls back) and off, and prints whether the parameters are identical, the graph launches, why
 *       graphs are off, and the live arrays and graph handles after everything is closed.
 *   <li>{@code open N}: opens the backend N times (CUDASIM_FAIL makes each attempt fail at a different call),
 *       printing each outcome, then once more for good; the simulator's exit report (CUDASIM_LEAKS=1) shows
 *       whether a failed open left anything behind.
 * </ul>
 */
public final class SimChild {
  private SimChild() {}

  static void out(String key, Object value) {
    System.out.println(key + "=" + String.valueOf(value).replace('\n', ' '));
  }

  public static void main(String[] args) {
    switch (args[0]) {
      case "train" -> {
        CudaSimSupport.init();
        train(args[1].split(","));
      }
      case "open" -> {
        CudaSimSupport.init();
        open(Integer.parseInt(args[1]));
      }
      case "jcublas-first" -> jcublasFirst(Boolean.parseBoolean(args[1]));
      default -> throw new IllegalArgumentException(args[0]);
    }
    System.out.flush();
  }

  /**
   * What a test class that calls JCublas2 directly does when it happens to run first, on a CUDA-13-only machine:
   * with {@code prepare}, through the test support's entry point (as {@code @GpuTest} classes do), else straight
   * away. Then opens the backend the way GPU tests do and runs a GEMM.
   */
  static void jcublasFirst(boolean prepare) {
    if (prepare) {
      CudaSimSupport.init();
    }
    try {
      jcuda.jcublas.cublasHandle h = new jcuda.jcublas.cublasHandle();
      jcuda.jcublas.JCublas2.setExceptionsEnabled(true);
      jcuda.jcublas.JCublas2.cublasCreate(h);
      jcuda.jcublas.JCublas2.cublasDestroy(h);
      out("jcublas", "ok");
    } catch (Throwable t) {
      out("jcublas", t);
    }
    try (CudaBackend be = CudaBackend.open();
        org.rfim4j.backend.DeviceArray a = be.allocate(2, 2);
        org.rfim4j.backend.DeviceArray c = be.allocate(2, 2)) {
      be.upload(a, new double[] {1, 2, 3, 4});
      be.gemm(false, false, 1.0, a, a, 0.0, c);
      out("backend", be.name() + " " + Arrays.toString(be.download(c)));
    } catch (Throwable t) {
      out("backend", t);
    }
  }

  static void train(String[] optimizers) {
    Dataset trainSet = Synthetic.blobs("train", 130, 12, 3, 5);
    Dataset valSet = Synthetic.blobs("val", 40, 12, 3, 6);
    Map<String, Function<Mlp, Optimizer>> make = Map.of(
        "adam", m -> new Adam(m, 0.01),
        "rngd", m -> new Rngd(m, RngdConfig.defaults(0.05).withRefreshPeriod(3)));
    CudaBackend be = CudaBackend.openDevice(0);
    out("graphsOffAtOpen", be.graphsOff());
    boolean identical = true;
    long launches = 0;
    for (String o : optimizers) {
      long[] g = new long[1];
      List<double[]> graphs = run(be, trainSet, valSet, make.get(o), true, g);
      launches += g[0];
      List<double[]> eager = run(be, trainSet, valSet, make.get(o), false, g);
      for (int i = 0; i < graphs.size(); i++) {
        if (!Arrays.equals(graphs.get(i), eager.get(i))) {
          identical = false;
          out("differs", o + " parameter " + i);
        }
      }
    }
    out("identical", identical);
    out("graphLaunches", launches);
    out("graphsOff", be.graphsOff());
    out("liveArrays", be.liveArrays());
    out("liveGraphHandles", be.liveGraphHandles());
    be.close();
  }

  static List<double[]> run(CudaBackend be, Dataset train, Dataset val, Function<Mlp, Optimizer> opt, boolean graphs,
      long[] graphLaunches) {
    be.resetCounts();
    org.rfim4j.nn.MlpConfig net = new org.rfim4j.nn.MlpConfig(12, new int[] {9, 7}, 3,
        org.rfim4j.backend.Activation.RELU, Architecture.PLAIN, 1e-3, 0.1, 11, 0.999, 1e-3);
    try (Mlp model = new Mlp(be, net, 20); Optimizer o = opt.apply(model)) {
      try (Trainer t = new Trainer(model, o, new TrainerConfig(2, 20, 3, 4, 20).withCudaGraphs(graphs))) {
        t.fit(train, val);
      }
      graphLaunches[0] = be.counts().get("graphs");
      return new ArrayList<>(model.downloadParameters());
    }
  }

  static void open(int failing) {
    for (int i = 1; i <= failing; i++) {
      try {
        CudaBackend be = CudaBackend.openDevice(0);
        out("open" + i, "opened" + (be.graphsOff() == null ? "" : ", graphs off: " + be.graphsOff()));
        be.close();
      } catch (IllegalStateException e) {
        out("open" + i, "failed: " + e.getMessage().lines().findFirst().orElse(""));
      }
    }
    try (CudaBackend be = CudaBackend.openDevice(0)) {
      out("final", "opened, graphs " + (be.graphsOff() == null ? "on" : "off"));
    }
  }
}
