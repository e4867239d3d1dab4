package org.rfim4j.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendSelector;
import org.rfim4j.io.Memory;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;

/**
 * What a training run will allocate on its backend, counted in array elements from the configuration alone
 * (nothing is allocated): the model (parameters, gradients, per-batch activations), the optimizer's state
 * (SGD velocity, Adam moments, RNGD's metrics and inverses: per-neuron layers hold m x (n+1)^2 values twice)
 * and the data uploaded to the device. {@link #require} compares it with what the backend has before any of
 * it is allocated.
 *
 * @param model elements of the model's arrays
 * @param optimizer elements of the optimizer's state
 * @param data elements of the device copy of the training and validation data, the shuffle index and the
 *     mini-batch buffers
 * @param largestArray elements of the largest single array
 * @param checkpointed elements a checkpoint downloads (model and optimizer arrays)
 * @param cpuWorkspace elements of the CPU engines' RNGD scratch, which their arrays do not count: for the
 *     largest per-neuron layer the float32 Java kernels' Khatri-Rao operand ({@code B D^2}; the native path
 *     needs only a {@code B x D} block per thread, also counted) and a copy of nu, the shared-metric support
 *     buffers and each thread's two {@code D x D} inversion buffers (docs/scaling.md)
 * @param gpuWorkspace elements of the CUDA backend's grow-only RNGD workspaces: the batched inversion's two
 *     copies of the largest per-neuron stack ({@code 2 m D^2}), the Gram workspace (at most 2^28 floats) and
 *     the solver's work buffer
 */
public record MemoryEstimate(double model, double optimizer, double data, double largestArray,
    double checkpointed, double cpuWorkspace, double gpuWorkspace) {

  /** The CPU engines' threads (one scratch slot each). */
  private static final int THREADS = Runtime.getRuntime().availableProcessors();

  /** The CUDA backend's largest Gram workspace in floats ({@code CudaRngd.maxGramWorkspaceFloats}). */
  static final double GRAM_WORKSPACE = 1L << 28;

  /** The most elements one backend array may hold. */
  public static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

  /**
   * The estimate for training {@code m} with {@code o} on {@code trainN} training and {@code valN} validation
   * examples in mini-batches of {@code batch} (evaluation in batches of {@code evalBatch}).
   *
   * @throws IllegalArgumentException if the RNGD metric kinds do not fit the network
   */
  public static MemoryEstimate of(MlpConfig m, OptimizerSpec o, int batch, int evalBatch, long trainN, long valN) {
    double maxBatch = Math.max(batch, evalBatch);
    int[] w = m.widths();
    int layers = w.length - 1;
    double params = 0;
    double acts = maxBatch * w[layers]; // softmax probabilities
    double largest = maxBatch * w[layers];
    for (int l = 0; l < layers; l++) {
      double weights = (double) (w[l] + 1) * w[l + 1];
      params += weights;
      largest = Math.max(largest, weights);
      boolean hidden = l < layers - 1;
      acts += maxBatch * w[l + 1] * (hidden ? 3 : 2); // pre-activation, output (hidden), delta
      largest = Math.max(largest, maxBatch * w[l + 1]);
      if (hidden && m.architecture() == Architecture.BNA) {
        params += 2.0 * w[l + 1];
        acts += maxBatch * w[l + 1] * 2 + 4.0 * w[l + 1]; // output, dInput; running and batch statistics
      }
    }
    double model = 2 * params + acts; // values and gradients
    double opt;
    double cpuWs = 0;
    double gpuWs = 0;
    switch (o.name()) {
      case "sgd":
        opt = o.momentum() == 0 ? 0 : params;
        break;
      case "adam":
        opt = 2 * params;
        break;
      default: {
        RngdConfig r = o.rngd() == null ? RngdConfig.defaults(o.learningRate()) : o.rngd();
        opt = 0;
        double cpuNeuron = 0;
        double cpuShared = 0;
        double dMax = 0;
        double invA = 0;
        double invB = 0;
        double gram = 0;
        for (int l = 0; l < layers; l++) {
          double d = w[l] + 1.0;
          boolean shared = r.kindOf(l, layers) == MetricKind.SHARED;
          double matrices = shared ? 1 : w[l + 1];
          double metric = matrices * d * d;
          opt += 2 * metric + matrices + (shared ? 0 : maxBatch * w[l + 1]); // G, Ginv, damping, nu
          largest = Math.max(largest, metric);
          // Backend scratch, grow-only and shared by the layers: the largest layer's sizes count.
          dMax = Math.max(dMax, d);
          invA = Math.max(invA, metric);
          if (shared) {
            cpuShared = Math.max(cpuShared, d * d + d + batch * d + d);
          } else {
            double n = w[l + 1];
            cpuNeuron = Math.max(cpuNeuron, batch * d * d + THREADS * batch * d + batch * n + n);
            invB = Math.max(invB, metric);
            gram = Math.max(gram, Math.min(n, Math.max(1, Math.floor(GRAM_WORKSPACE / (batch * d)))) * batch * d);
          }
        }
        cpuWs = cpuNeuron + cpuShared + 2 * dMax * dMax * THREADS;
        gpuWs = invA + invB + gram + dMax * dMax;
      }
    }
    double data = (double) (trainN + valN) * (w[0] + 1) + trainN + maxBatch * (w[0] + 1);
    largest = Math.max(largest, (double) Math.max(trainN, valN) * w[0]);
    return new MemoryEstimate(model, opt, data, largest, 2 * params + opt, cpuWs, gpuWs);
  }

  /** Both runs on one backend at once. */
  public MemoryEstimate plus(MemoryEstimate o) {
    return new MemoryEstimate(model + o.model, optimizer + o.optimizer, data + o.data,
        Math.max(largestArray, o.largestArray), checkpointed + o.checkpointed,
        Math.max(cpuWorkspace, o.cpuWorkspace), Math.max(gpuWorkspace, o.gpuWorkspace)); // one backend's scratch
  }

  /** All elements of the backend's arrays (its own scratch apart, see {@link #workspace}). */
  public double elements() {
    return model + optimizer + data;
  }

  /**
   * Refuses the run, before anything is allocated, when it cannot fit: an array beyond {@link #MAX_ARRAY}
   * elements; on the CPU backend (float64 on the JVM heap) more than the heap can still allocate; on a GPU
   * (float32) more than the device's free memory when the backend can tell it (see {@link
   * BackendSelector#deviceFreeBytes}), and the host copies a checkpoint makes.
   *
   * @param checkpoints whether checkpoints will be written (their host copies count on the heap)
   * @throws Memory.NotEnoughMemoryException naming the need and the limit
   */
  public void require(Backend backend, boolean checkpoints) {
    String refusal = refusal(backend, checkpoints, 0, null);
    if (refusal != null) {
      throw new Memory.NotEnoughMemoryException(refusal);
    }
  }

  /**
   * Estimates a run and refuses it, before anything is allocated, when it cannot fit (as {@link #require});
   * the refusal then also names the RNGD metric kinds and the other optimizers that would fit on the same
   * backend, each with the memory it needs (docs/scaling.md). For RNGD the nearest fit comes first: the
   * requested kinds with the per-neuron layers of the largest metrics turned to shared, one at a time, until
   * the run fits; then every layer shared.
   *
   * @param heapExtra bytes that must fit on the JVM heap beside the run (the dataset while it loads), 0 if none
   * @param extraWhat what those bytes are, e.g. "loading mnist (...)"; null when {@code heapExtra} is 0
   * @return the estimate, which fits
   * @throws Memory.NotEnoughMemoryException naming the need, the limit and what would fit
   */
  public static MemoryEstimate require(MlpConfig m, OptimizerSpec o, int batch, int evalBatch, long trainN,
      long valN, Backend backend, boolean checkpoints, long heapExtra, String extraWhat) {
    MemoryEstimate e = of(m, o, batch, evalBatch, trainN, valN);
    String refusal = e.refusal(backend, checkpoints, heapExtra, extraWhat);
    if (refusal == null) {
      return e;
    }
    List<String> kinds = new ArrayList<>();
    List<String> optimizers = new ArrayList<>();
    int layers = m.widths().length - 1;
    if (o.name().equals("rngd")) {
      RngdConfig r = o.rngd() == null ? RngdConfig.defaults(o.learningRate()) : o.rngd();
      MetricKind[] wanted = new MetricKind[layers];
      for (int l = 0; l < layers; l++) {
        wanted[l] = r.kindOf(l, layers);
      }
      MetricKind[] k = wanted.clone();
      while (true) {
        int widest = -1;
        for (int l = 0; l < layers; l++) {
          if (k[l] == MetricKind.PER_NEURON && (widest < 0 || metricElements(m, l, k[l])
              > metricElements(m, widest, k[widest]))) {
            widest = l;
          }
        }
        if (widest < 0) {
          break;
        }
        k[widest] = MetricKind.SHARED;
        String fit = fitting(m, new OptimizerSpec("rngd", o.learningRate(), 0, r.withMetricKinds(k)), batch,
            evalBatch, trainN, valN, backend, checkpoints, heapExtra);
        if (fit != null) {
          kinds.add(kindList(k) + " (about " + fit + ")");
          break;
        }
      }
      MetricKind[] shared = new MetricKind[layers];
      Arrays.fill(shared, MetricKind.SHARED);
      if (!Arrays.equals(k, shared) && !Arrays.equals(wanted, shared)) {
        String fit = fitting(m, new OptimizerSpec("rngd", o.learningRate(), 0, r.withMetricKinds(shared)), batch,
            evalBatch, trainN, valN, backend, checkpoints, heapExtra);
        if (fit != null) {
          kinds.add(kindList(shared) + " (about " + fit + ")");
        }
      }
    }
    for (OptimizerSpec other : List.of(OptimizerSpec.adam(1e-3), OptimizerSpec.sgd(0.1))) {
      if (!other.name().equals(o.name())) {
        String fit = fitting(m, other, batch, evalBatch, trainN, valN, backend, checkpoints, heapExtra);
        if (fit != null) {
          optimizers.add(other.name() + " (about " + fit + ")");
        }
      }
    }
    StringBuilder sb = new StringBuilder(refusal);
    if (kinds.isEmpty() && optimizers.isEmpty()) {
      sb.append(o.name().equals("rngd") ? "; no other RNGD metric kinds or optimizer fit either"
          : "; no other optimizer fits either").append(" (smaller --hidden or --batch)");
    } else {
      sb.append("; these would fit:");
      if (!kinds.isEmpty()) {
        sb.append(" RNGD metric kinds (--rngd-metrics) ").append(String.join(", ", kinds));
      }
      if (!optimizers.isEmpty()) {
        sb.append(kinds.isEmpty() ? " " : "; ").append("optimizers ").append(String.join(", ", optimizers));
      }
    }
    throw new Memory.NotEnoughMemoryException(sb.toString());
  }

  /** What {@code o} needs on the backend ("1.2 GiB") when the run fits, else null. */
  private static String fitting(MlpConfig m, OptimizerSpec o, int batch, int evalBatch, long trainN, long valN,
      Backend backend, boolean checkpoints, long heapExtra) {
    MemoryEstimate e = of(m, o, batch, evalBatch, trainN, valN);
    return e.refusal(backend, checkpoints, heapExtra, "") == null ? Memory.human(e.backendBytes(backend)) : null;
  }

  /** Elements of layer {@code l}'s metric (one of G and its inverse) of kind {@code k}. */
  private static double metricElements(MlpConfig m, int l, MetricKind k) {
    double d = m.widths()[l] + 1.0;
    return (k == MetricKind.SHARED ? 1 : m.widths()[l + 1]) * d * d;
  }

  /** "shared,neuron,neuron,shared", as --rngd-metrics takes it. */
  static String kindList(MetricKind[] k) {
    StringBuilder sb = new StringBuilder();
    for (MetricKind x : k) {
      sb.append(sb.length() == 0 ? "" : ",").append(x == MetricKind.SHARED ? "shared" : "neuron");
    }
    return sb.toString();
  }

  /** Elements of the backend's own scratch at this precision: 64 bits is the CPU backend, else CUDA's. */
  public double workspace(int bits) {
    return bits == 64 ? cpuWorkspace : gpuWorkspace;
  }

  /**
   * Bytes of the backend's arrays and scratch at its precision, with 5% for allocator rounding and small
   * buffers.
   */
  long backendBytes(Backend backend) {
    int bits = backend.precisionBits();
    return saturate((elements() + workspace(backend)) * bits / 8 * 1.05);
  }

  /**
   * Whether the backend's arrays live on the JVM heap: the CPU engines (float64 and float32), whose
   * {@link Backend#deviceFreeBytes} is -1.
   */
  static boolean onHeap(Backend backend) {
    return BackendSelector.deviceFreeBytes(backend) < 0;
  }

  /** The backend's scratch in elements: the CPU engines' buffers on the heap, CUDA's otherwise. */
  double workspace(Backend backend) {
    return onHeap(backend) ? cpuWorkspace : gpuWorkspace;
  }

  /**
   * The message {@link #require} throws, or null when the run fits; {@code heapExtra} bytes ({@code extraWhat})
   * must fit on the JVM heap beside it.
   */
  private String refusal(Backend backend, boolean checkpoints, long heapExtra, String extraWhat) {
    if (largestArray > MAX_ARRAY) {
      return String.format(Locale.ROOT, "the run needs an array of %.3g elements, more than the %d one backend"
          + " array may hold, and about %s in all (%s; smaller --hidden or --batch)", largestArray, MAX_ARRAY,
          Memory.human(backendBytes(backend)), describe(backend));
    }
    int bits = backend.precisionBits();
    long onBackend = backendBytes(backend);
    // A checkpoint holds its arrays about three times on the heap while it is written (downloaded as float64,
    // serialised, copied).
    long hostCopies = checkpoints ? saturate(3 * 8 * checkpointed) : 0;
    String extra = heapExtra > 0 ? extraWhat + " and " : "";
    long deviceFree = BackendSelector.deviceFreeBytes(backend);
    if (deviceFree >= 0) {
      if (onBackend > deviceFree) {
        return "not enough GPU memory: training needs about " + Memory.human(onBackend) + " (" + describe(backend)
            + "), " + backend.name() + " has " + Memory.human(deviceFree) + " free";
      }
    } else { // a CPU engine (float64 or float32): its arrays live on the JVM heap
      return Memory.heapRefusal(saturate((double) onBackend + hostCopies + heapExtra), extra + "training ("
          + describe(backend) + (checkpoints ? ", checkpoint copies " + Memory.human(hostCopies) : "") + ")");
    }
    if (hostCopies + heapExtra > 0) {
      return Memory.heapRefusal(saturate((double) hostCopies + heapExtra), hostCopies > 0
          ? extra + "writing checkpoints (host copies of the model and optimizer state)" : extraWhat);
    }
    return null;
  }

  /** "model 1.2 GiB, optimizer 3.4 GiB, data 600 MiB, RNGD workspace 1.1 GiB" at the backend's precision. */
  public String describe(int bits) {
    return describe(bits, workspace(bits));
  }

  /** {@link #describe(int)} for a backend: its precision, and the CPU engines' scratch when it is one. */
  public String describe(Backend backend) {
    return describe(backend.precisionBits(), workspace(backend));
  }

  private String describe(int bits, double ws) {
    return "model " + Memory.human(saturate(model * bits / 8)) + ", optimizer "
        + Memory.human(saturate(optimizer * bits / 8)) + ", data " + Memory.human(saturate(data * bits / 8))
        + (ws > 0 ? ", RNGD workspace " + Memory.human(saturate(ws * bits / 8)) : "");
  }

  static long saturate(double bytes) {
    return bytes >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) Math.ceil(bytes);
  }
}
