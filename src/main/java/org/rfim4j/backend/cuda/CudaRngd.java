package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static org.rfim4j.backend.cuda.Checks.matrix;
import static org.rfim4j.backend.cuda.Checks.shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.MetricUpdate;

/**
 * The RNGD operations of {@link CudaBackend} (MATH.md section 8) with their owned, grow-only workspaces:
 * the weighted Gram updates (scaled-copy kernel + strided-batched SGEMM), batched inversion (symmetrise +
 * damp kernel, batched Cholesky, a status kernel with the A11 failure rule, two batched triangular solves,
 * guarded copy; the refresh variant needs no host synchronisation) and the per-neuron
 * preconditioning (one strided-batched SGEMM). Each operation checks its arguments ({@link CudaArrays#arr},
 * then the shapes) and makes the backend's context current.
 */
final class CudaRngd implements AutoCloseable {
  /**
   * Largest Gram workspace in floats (default 1 GiB); bigger layers are processed in neuron chunks of two
   * launches each. Package-visible and mutable for the chunking test only.
   */
  static long maxGramWorkspaceFloats = 1L << 28;

  private final CudaBackend backend;
  private final CudaArrays arrays;
  private final CudaRuntime rt;
  private final Kernels k;
  private final Cublas blas;
  private final Cusolver solver;
  private final DeviceBuffer gramWs;
  private final DeviceBuffer invA;
  private final DeviceBuffer invB;
  /** Per-slice status, then the factorisation infos (and potri's), see {@link #invert}. */
  private final DeviceBuffer invInfo;
  private final DeviceBuffer invPtrs;
  private final DeviceBuffer invWork;
  /** Descriptor tables of the multi-layer launches. */
  private final DescriptorTables tables;
  /** Damping factors on the device per metric, by its storage (equal views share one); see {@link #epsFor}. */
  private final java.util.Map<CudaArray.Storage, EpsCache> epsCache = new java.util.HashMap<>();
  /** The main stream's inversion workspaces and handles. */
  private final Inv mainInv;
  /** The side stream's (the refresh of large single metrics, see {@link #refreshInversesAll}); null until used. */
  private Inv sideInv;
  /** Why the side stream is not used (its creation failed), or null. */
  private String sideUnavailable;

  /** The workspaces and library handles of inversions on one stream. */
  private static final class Inv {
    final DeviceBuffer a;
    final DeviceBuffer b;
    final DeviceBuffer info;
    final DeviceBuffer ptrs;
    final DeviceBuffer work;
    final Cublas blas;
    final Cusolver solver;
    /** The D whose solver work size is in workFloats (-1: none yet). */
    int workD = -1;
    int workFloats;

    Inv(DeviceBuffer a, DeviceBuffer b, DeviceBuffer info, DeviceBuffer ptrs, DeviceBuffer work, Cublas blas,
        Cusolver solver) {
      this.a = a;
      this.b = b;
      this.info = info;
      this.ptrs = ptrs;
      this.work = work;
      this.blas = blas;
      this.solver = solver;
    }
  }

  CudaRngd(CudaBackend backend, CudaArrays arrays, CudaRuntime rt, Kernels k, Cublas blas, Cusolver solver) {
    this.backend = backend;
    this.arrays = arrays;
    this.rt = rt;
    this.k = k;
    this.blas = blas;
    this.solver = solver;
    this.gramWs = new DeviceBuffer("gram", rt);
    this.invA = new DeviceBuffer("inverse-factor", rt);
    this.invB = new DeviceBuffer("inverse-result", rt);
    this.invInfo = new DeviceBuffer("inverse-info", rt);
    this.invPtrs = new DeviceBuffer("inverse-pointers", rt);
    this.invWork = new DeviceBuffer("solver-work", rt);
    this.mainInv = new Inv(invA, invB, invInfo, invPtrs, invWork, blas, solver);
    this.tables = new DescriptorTables(rt);
  }

  void sharedMetricUpdate(DeviceArray h, double lambda, DeviceArray g) {
    CudaArray H = arrays.arr("h", h);
    CudaArray G = arrays.arr("g", g);
    backend.enter();
    int b = H.rows();
    int n = H.cols();
    int d = n + 1;
    matrix("g", G, d, d);
    if (G.shape().length != 2) {
      throw new IllegalArgumentException("g must be a (n+1) x (n+1) matrix but is " + shape(G));
    }
    CUdeviceptr ws = gramWs.ensure((long) b * d * Sizeof.FLOAT);
    k.launchN(k.scaledHtilde, (long) b * d, H.ptr(), null, b, n, 1, 0, 1, ws);
    // Full sgemm (not syrk): G need not be exactly symmetric on entry, and both triangles follow the EMA.
    blas.gemmStridedBatchedColMajor(false, true, d, d, b, lambda / b, ws, d, (long) b * d, ws, d, (long) b * d,
        1 - lambda, G.ptr(), d, (long) d * d, 1);
  }

  void perNeuronMetricUpdate(DeviceArray h, DeviceArray nu, double lambda, DeviceArray g) {
    CudaArray N = arrays.arr("nu", nu);
    perNeuronGram(h, "nu", N, lambda, g, (H, n, m, i0, c, ws) ->
        k.launchN(k.scaledHtilde, (long) c * H.rows() * (n + 1), H.ptr(), N.ptr(), H.rows(), n, m, i0, c, ws));
  }

  /** perNeuronMetricUpdate with sqrt(nu_f(a)) computed inside the workspace kernel. */
  void perNeuronMetricUpdateFromPreActivations(DeviceArray h, Activation act, DeviceArray a, double omega,
      double lambda, DeviceArray nu, DeviceArray g) {
    if (act == null) {
      throw new IllegalArgumentException("act must not be null");
    }
    if (omega <= 0) {
      throw new IllegalArgumentException("omega must be > 0, got " + omega);
    }
    CudaArray A = arrays.arr("a", a);
    arrays.arr("nu", nu);
    perNeuronGram(h, "a", A, lambda, g, (H, n, m, i0, c, ws) ->
        k.launchN(k.scaledHtildeAct, (long) c * H.rows() * (n + 1), H.ptr(), A.ptr(), CudaLayers.actCode(act),
            (float) act.negativeSlope(), (float) act.alpha(), (float) omega, H.rows(), n, m, i0, c, ws));
  }

  /** Writes the nu-scaled copies of H~ for neurons [i0, i0 + c) into the workspace. */
  private interface ScaledCopies {
    void fill(CudaArray h, int n, int m, int i0, int c, CUdeviceptr ws);
  }

  /**
   * The weighted Gram update shared by both entry points: validates the shapes (coefficients B x m for
   * h B x n and g m x (n+1) x (n+1)), then per chunk of neurons fills the workspace and runs one strided
   * batched GEMM G_i = (1 - lambda) G_i + lambda / B S_i^T S_i.
   */
  private void perNeuronGram(DeviceArray h, String coeffName, CudaArray coeff, double lambda, DeviceArray g,
      ScaledCopies copies) {
    CudaArray H = arrays.arr("h", h);
    CudaArray G = arrays.arr("g", g);
    backend.enter();
    int b = H.rows();
    int n = H.cols();
    int d = n + 1;
    int[] gs = G.shape();
    if (!(gs.length == 3 && gs[1] == d && gs[2] == d)) {
      throw new IllegalArgumentException("g must be m x " + d + " x " + d + " for h " + shape(H)
          + " but is " + shape(G));
    }
    int m = gs[0];
    if (!(coeff.rows() == b && coeff.cols() == m)) {
      throw new IllegalArgumentException(coeffName + " " + shape(coeff) + " must be " + b + " x " + m
          + " (B x m for h " + shape(H) + " and g " + shape(G) + ")");
    }
    long perNeuron = (long) b * d;
    int chunk = (int) Math.max(1, Math.min(m, maxGramWorkspaceFloats / perNeuron));
    CUdeviceptr ws = gramWs.ensure(chunk * perNeuron * Sizeof.FLOAT);
    for (int i0 = 0; i0 < m; i0 += chunk) {
      int c = Math.min(chunk, m - i0);
      copies.fill(H, n, m, i0, c, ws);
      // Column-major, S_q (row-major b x d) is X_q = S_q^T (d x b, ld d): X_q X_q^T = S_q^T S_q.
      blas.gemmStridedBatchedColMajor(false, true, d, d, b, lambda / b, ws, d, perNeuron, ws, d, perNeuron,
          1 - lambda, G.ptr().withByteOffset((long) i0 * d * d * Sizeof.FLOAT), d, (long) d * d, c);
    }
  }

  /** Largest D that {@link #preconditionLayers} runs in its batched matrix-vector kernel (RFIM_PREC_MAX_D). */
  static final int PREC_MAX_D = 256;
  private static final int DESC_BYTES = 64;

  /**
   * {@link org.rfim4j.backend.Backend#metricUpdates}: every layer's Gram workspace in one launch
   * ({@code rfim_scaled_htilde_multi}, through a cached descriptor table), then one strided-batched GEMM per run of
   * per-neuron layers whose metrics are adjacent slices of one stack with equal B and D, one per other layer. When
   * the workspaces together exceed {@link #maxGramWorkspaceFloats}, each layer runs on its own (chunked).
   */
  void metricUpdates(List<MetricUpdate> ups, double lambda) {
    if (ups == null) {
      throw new IllegalArgumentException("updates must not be null");
    }
    int count = ups.size();
    CudaArray[] hs = new CudaArray[count];
    CudaArray[] gs = new CudaArray[count];
    CudaArray[] cs = new CudaArray[count];
    int[] ms = new int[count];
    long[] off = new long[count];
    long total = 0;
    for (int i = 0; i < count; i++) {
      MetricUpdate u = ups.get(i);
      String at = "updates[" + i + "]";
      if (u == null) {
        throw new IllegalArgumentException(at + " is null");
      }
      CudaArray H = arrays.arr(at + ".h", u.h());
      CudaArray G = arrays.arr(at + ".g", u.g());
      int b = H.rows();
      int d = H.cols() + 1;
      int[] gsh = G.shape();
      if (u.isShared()) {
        if (!(gsh.length == 2 && gsh[0] == d && gsh[1] == d)) {
          throw new IllegalArgumentException(at + ".g must be a " + d + " x " + d + " matrix for h " + shape(H)
              + " but is " + shape(G));
        }
        ms[i] = 1;
      } else {
        if (!(gsh.length == 3 && gsh[1] == d && gsh[2] == d)) {
          throw new IllegalArgumentException(at + ".g must be m x " + d + " x " + d + " for h " + shape(H)
              + " but is " + shape(G));
        }
        ms[i] = gsh[0];
        CudaArray C = arrays.arr(at + (u.act() == null ? ".nu" : ".a"), u.coefficients());
        if (!(C.rows() == b && C.cols() == ms[i])) {
          throw new IllegalArgumentException(at + (u.act() == null ? ".nu " : ".a ") + shape(C) + " must be " + b
              + " x " + ms[i] + " (B x m for h " + shape(H) + " and g " + shape(G) + ")");
        }
        if (u.act() != null) {
          if (u.omega() <= 0) {
            throw new IllegalArgumentException(at + ": omega must be > 0, got " + u.omega());
          }
          arrays.arr(at + ".nu", u.nu());
        }
        cs[i] = C;
      }
      hs[i] = H;
      gs[i] = G;
      off[i] = total;
      total += (long) ms[i] * b * d;
    }
    if (count == 0) {
      return;
    }
    if (total > maxGramWorkspaceFloats) {
      for (MetricUpdate u : ups) {
        u.runOn(backend, lambda);
      }
      return;
    }
    backend.enter();
    java.nio.ByteBuffer t = java.nio.ByteBuffer.allocate(count * DESC_BYTES).order(java.nio.ByteOrder.nativeOrder());
    for (int i = 0; i < count; i++) {
      MetricUpdate u = ups.get(i);
      int base = i * DESC_BYTES;
      t.putLong(base, DescriptorTables.address(hs[i].ptr()));
      t.putLong(base + 8, cs[i] == null ? 0 : DescriptorTables.address(cs[i].ptr()));
      t.putLong(base + 16, off[i]);
      t.putInt(base + 24, hs[i].rows());
      t.putInt(base + 28, hs[i].cols());
      t.putInt(base + 32, ms[i]);
      t.putInt(base + 36, u.isShared() ? 0 : u.act() == null ? 1 : 2);
      if (u.act() != null) {
        t.putInt(base + 40, CudaLayers.actCode(u.act()));
        t.putFloat(base + 44, (float) u.act().negativeSlope());
        t.putFloat(base + 48, (float) u.act().alpha());
        t.putFloat(base + 52, (float) u.omega());
      }
    }
    CUdeviceptr table = tables.table(t.array());
    CUdeviceptr ws = gramWs.ensure(total * Sizeof.FLOAT);
    k.launchN(k.scaledHtildeMulti, total, table, count, total, ws);
    for (int i = 0; i < count;) {
      int b = hs[i].rows();
      int d = hs[i].cols() + 1;
      int batch = ms[i];
      int j = i + 1;
      if (cs[i] != null) {
        while (j < count && cs[j] != null && hs[j].rows() == b && hs[j].cols() + 1 == d && adjacent(gs[j - 1], gs[j])) {
          batch += ms[j];
          j++;
        }
      }
      long per = (long) b * d;
      CUdeviceptr w = ws.withByteOffset(off[i] * Sizeof.FLOAT);
      // Column-major, S_q (row-major b x d) is X_q = S_q^T (d x b, ld d): X_q X_q^T = S_q^T S_q.
      blas.gemmStridedBatchedColMajor(false, true, d, d, b, lambda / b, w, d, per, w, d, per, 1 - lambda,
          gs[i].ptr(), d, (long) d * d, batch);
      i = j;
    }
  }

  /**
   * Whether the side stream can take work: its workspaces and handles exist, or are made now (outside a capture;
   * a step's eager warm-up run makes them). A failure to make them is remembered and the work stays on the main
   * stream.
   */
  private boolean sideReady() {
    if (sideInv != null) {
      return true;
    }
    if (sideUnavailable != null || rt.rec.mode != StepRecorder.Mode.EAGER) {
      return false;
    }
    Cublas b = null;
    try {
      jcuda.runtime.cudaStream_t s = rt.sideStream();
      b = new Cublas(rt, s);
      Cusolver v = new Cusolver(rt, s);
      sideInv = new Inv(new DeviceBuffer("side-inverse-factor", rt), new DeviceBuffer("side-inverse-result", rt),
          new DeviceBuffer("side-inverse-info", rt), new DeviceBuffer("side-inverse-pointers", rt),
          new DeviceBuffer("side-solver-work", rt), b, v);
      return true;
    } catch (RuntimeException e) {
      if (b != null) {
        b.close();
      }
      sideUnavailable = String.valueOf(e.getMessage());
      return false;
    }
  }

  /** Whether {@code b}'s elements follow {@code a}'s directly in one allocation. */
  private static boolean adjacent(CudaArray a, CudaArray b) {
    return a.root() == b.root() && a.offset() + a.size() == b.offset();
  }

  /**
   * {@link org.rfim4j.backend.Backend#preconditionLayers}: the layers with D <= {@link #PREC_MAX_D} in one
   * {@code rfim_precondition_multi} launch (one block per gradient column, through a cached descriptor table),
   * larger ones with a GEMM (shared) or {@link #perNeuronPrecondition}.
   */
  void preconditionLayers(List<DeviceArray> ginvs, List<DeviceArray> grads, double alpha, double beta,
      List<DeviceArray> outs) {
    if (ginvs == null || grads == null || outs == null || ginvs.size() != grads.size()
        || ginvs.size() != outs.size()) {
      throw new IllegalArgumentException("preconditionLayers needs one of ginvs, grads and outs per layer, got "
          + (ginvs == null ? "null" : ginvs.size()) + ", " + (grads == null ? "null" : grads.size()) + " and "
          + (outs == null ? "null" : outs.size()));
    }
    int count = ginvs.size();
    CudaArray[] gi = new CudaArray[count];
    CudaArray[] gr = new CudaArray[count];
    CudaArray[] o = new CudaArray[count];
    List<Integer> small = new ArrayList<>();
    int columns = 0;
    for (int i = 0; i < count; i++) {
      gi[i] = arrays.arr("ginvs[" + i + "]", ginvs.get(i));
      gr[i] = arrays.arr("grads[" + i + "]", grads.get(i));
      o[i] = arrays.arr("outs[" + i + "]", outs.get(i));
      int d = gr[i].rows();
      int m = gr[i].cols();
      int[] s = gi[i].shape();
      boolean ok = s.length == 3 ? s[0] == m && s[1] == d && s[2] == d : s.length == 2 && s[0] == d && s[1] == d;
      if (!ok) {
        throw new IllegalArgumentException("ginvs[" + i + "] " + shape(gi[i]) + " must be " + d + " x " + d
            + " (shared) or " + m + " x " + d + " x " + d + " (per neuron) for grads[" + i + "] " + shape(gr[i]));
      }
      matrix("outs[" + i + "]", o[i], d, m);
      if (d <= PREC_MAX_D) {
        small.add(i);
        columns += m;
      }
    }
    backend.enterKeepingSide();  // the small layers' inverses are never refreshed on the side stream
    if (!small.isEmpty()) {
      java.nio.ByteBuffer t = java.nio.ByteBuffer.allocate(small.size() * DESC_BYTES)
          .order(java.nio.ByteOrder.nativeOrder());
      int first = 0;
      for (int q = 0; q < small.size(); q++) {
        int i = small.get(q);
        int d = gr[i].rows();
        int m = gr[i].cols();
        CUdeviceptr src = gr[i].ptr();
        if (gr[i].overlaps(o[i]) && !(gr[i].offset() == o[i].offset() && gr[i].size() == o[i].size())) {
          throw new IllegalArgumentException("outs[" + i + "] overlaps grads[" + i + "] without being it");
        }
        int base = q * DESC_BYTES;
        t.putLong(base, DescriptorTables.address(gi[i].ptr()));
        t.putLong(base + 8, DescriptorTables.address(src));
        t.putLong(base + 16, DescriptorTables.address(o[i].ptr()));
        t.putLong(base + 24, gi[i].shape().length == 3 ? (long) d * d : 0);
        t.putInt(base + 32, d);
        t.putInt(base + 36, m);
        t.putInt(base + 40, first);
        first += m;
      }
      CUdeviceptr table = tables.table(t.array());
      k.launchGrid(k.preconditionMulti, Math.min(columns, k.maxBlocks()), 128, table, small.size(), columns,
          (float) alpha, (float) beta);
    }
    rt.joinSide();  // the large layers' inverses may come from the side stream
    for (int i = 0; i < count; i++) {
      if (gr[i].rows() <= PREC_MAX_D) {
        continue;
      }
      if (gi[i].shape().length == 3) {
        perNeuronPrecondition(gi[i], gr[i], alpha, beta, o[i]);
      } else {
        CUdeviceptr g = gr[i].ptr();
        if (gr[i].overlaps(o[i])) {  // gemm's C must not overlap B: read from a copy
          g = gramWs.ensure(gr[i].size() * Sizeof.FLOAT);
          rt.copyAsync(g, gr[i].ptr(), gr[i].size() * Sizeof.FLOAT);
        }
        int d = gr[i].rows();
        int m = gr[i].cols();
        blas.gemmRowMajor(false, false, d, m, d, alpha, gi[i].ptr(), d, g, m, beta, o[i].ptr(), m);
      }
    }
  }

  void addDiagonal(DeviceArray g, double value) {
    CudaArray G = arrays.arr("g", g);
    backend.enter();
    int m = Checks.stack("g", G);
    int d = G.cols();
    k.launchN(k.addDiagonal, (long) m * d, G.ptr(), m, d, (float) value);
  }

  /**
   * The host-side variant: uploads the damping factors when they changed (see {@link #epsFor}), runs
   * {@link #invert} without the A11 updates and synchronises once to read the per-slice status back.
   */
  int[] batchedInverse(DeviceArray g, double[] epsRel, double epsAbs, DeviceArray ginv) {
    CudaArray G = arrays.arr("g", g);
    CudaArray GI = arrays.arr("ginv", ginv);
    backend.enter();
    int m = stackOf(G, GI);
    if (!(epsRel != null && epsRel.length == m)) {
      throw new IllegalArgumentException("epsRel must have " + m + " entries (one per matrix of g " + shape(G)
          + ") but has " + (epsRel == null ? "null" : String.valueOf(epsRel.length)));
    }
    float[] eps = new float[epsRel.length];
    for (int i = 0; i < eps.length; i++) {
      eps[i] = (float) epsRel[i];
    }
    if (m == 0) {
      return new int[0];
    }
    CUdeviceptr epsDev = epsFor(G, eps);
    boolean single = G.shape().length == 2;
    CUdeviceptr st = invert(G, GI, m, epsDev, eps.length, epsAbs, null, null);
    // [status | potrf info | potri info] for a single matrix, the m statuses of a stack
    int[] raw = downloadInts(st, single ? 3 : m);
    int[] status = Arrays.copyOf(raw, m);
    if (single) {
      checkInfo(new int[] {raw[2]}, "cusolverDnSpotri");
      if (status[0] == 0 && raw[2] != 0) {
        status[0] = raw[2];  // not expected: the status kernel already requires a positive factor diagonal
      }
    }
    checkInfo(status, single ? "cusolverDnSpotrf" : "cusolverDnSpotrfBatched");
    return status;
  }

  /**
   * {@link org.rfim4j.backend.Backend#refreshInverses}: {@link #invert} with the damping read from and the
   * A11 updates written to the device arrays {@code epsRel} and {@code failures}. No host synchronisation
   * and no upload: capturable into a CUDA graph. A negative cuSOLVER info (an argument error, a bug) cannot
   * throw here; it counts as a failure.
   */
  void refreshInverses(DeviceArray g, DeviceArray epsRel, double epsAbs, DeviceArray ginv, DeviceArray failures) {
    CudaArray G = arrays.arr("g", g);
    CudaArray GI = arrays.arr("ginv", ginv);
    CudaArray E = arrays.arr("epsRel", epsRel);
    CudaArray F = arrays.arr("failures", failures);
    backend.enter();
    int m = stackOf(G, GI);
    if (E.size() != m) {
      throw new IllegalArgumentException("epsRel must have " + m + " elements (one per matrix of g " + shape(G)
          + ") but has shape " + shape(E));
    }
    if (F.size() < 1) {
      throw new IllegalArgumentException("failures must have at least one element but has shape " + shape(F));
    }
    if (m > 0) {
      invert(G, GI, m, E.ptr(), m, epsAbs, E.ptr(), F.ptr());
    }
  }

  /**
   * {@link org.rfim4j.backend.Backend#refreshInversesAll}: consecutive stacks whose metrics, inverses, damping
   * vectors and (one-element) failure counters are adjacent slices of one allocation each, with equal m and D (the
   * layers of one shape the preconditioner allocates together), are inverted as one batch with one failure counter
   * per layer; every other item as {@link #refreshInverses}.
   */
  void refreshInversesAll(List<DeviceArray> gs, List<DeviceArray> epsRels, double epsAbs, List<DeviceArray> ginvs,
      List<DeviceArray> failures) {
    if (gs == null || epsRels == null || ginvs == null || failures == null || epsRels.size() != gs.size()
        || ginvs.size() != gs.size() || failures.size() != gs.size()) {
      throw new IllegalArgumentException("refreshInversesAll needs one of gs, epsRels, ginvs and failures per"
          + " layer");
    }
    int count = gs.size();
    CudaArray[] g = new CudaArray[count];
    CudaArray[] gi = new CudaArray[count];
    CudaArray[] e = new CudaArray[count];
    CudaArray[] f = new CudaArray[count];
    for (int i = 0; i < count; i++) {
      g[i] = arrays.arr("gs[" + i + "]", gs.get(i));
      gi[i] = arrays.arr("ginvs[" + i + "]", ginvs.get(i));
      e[i] = arrays.arr("epsRels[" + i + "]", epsRels.get(i));
      f[i] = arrays.arr("failures[" + i + "]", failures.get(i));
      int m = stackOf(g[i], gi[i]);
      if (e[i].size() != m) {
        throw new IllegalArgumentException("epsRels[" + i + "] must have " + m + " elements (one per matrix of gs["
            + i + "] " + shape(g[i]) + ") but has shape " + shape(e[i]));
      }
      if (f[i].size() < 1) {
        throw new IllegalArgumentException("failures[" + i + "] must have at least one element but has shape "
            + shape(f[i]));
      }
    }
    backend.enter();
    // Large single metrics (the shared input layer's 785 x 785) are inverted on the side stream, concurrently
    // with the rest of the refresh and the small layers' preconditioning; the main stream waits for them only
    // before the next operation that is not allowed to overlap (CudaBackend#enter, CudaRngd#preconditionLayers).
    boolean[] onSide = new boolean[count];
    boolean anySide = false;
    for (int i = 0; i < count; i++) {
      onSide[i] = g[i].shape().length == 2 && g[i].cols() > PREC_MAX_D && e[i].size() > 0;
      anySide |= onSide[i];
    }
    if (anySide && sideReady()) {
      rt.forkSide();
      try {
        for (int i = 0; i < count; i++) {
          if (onSide[i]) {
            invert(sideInv, g[i].ptr(), true, g[i].cols(), gi[i].ptr(), 1, e[i].ptr(), 1, epsAbs, e[i].ptr(),
                f[i].ptr(), 0);
          }
        }
      } finally {
        rt.endSide();
      }
    } else {
      java.util.Arrays.fill(onSide, false);
    }
    for (int i = 0; i < count;) {
      if (onSide[i]) {
        i++;
        continue;
      }
      int j = i + 1;
      if (g[i].shape().length == 3 && f[i].size() == 1) {
        while (j < count && g[j].shape().length == 3 && f[j].size() == 1
            && java.util.Arrays.equals(g[j].shape(), g[i].shape()) && adjacent(g[j - 1], g[j])
            && adjacent(gi[j - 1], gi[j]) && adjacent(e[j - 1], e[j]) && adjacent(f[j - 1], f[j])) {
          j++;
        }
      }
      if (j == i + 1) {
        if (e[i].size() > 0) {
          invert(g[i], gi[i], (int) e[i].size(), e[i].ptr(), (int) e[i].size(), epsAbs, e[i].ptr(), f[i].ptr());
        }
      } else {
        int m = g[i].shape()[0];
        int total = m * (j - i);
        invert(mainInv, g[i].ptr(), false, g[i].cols(), gi[i].ptr(), total, e[i].ptr(), total, epsAbs, e[i].ptr(),
            f[i].ptr(), m);
      }
      i = j;
    }
  }

  /** The number of matrices of g (a stack m x D x D, or one D x D) after checking that ginv has its shape. */
  private static int stackOf(CudaArray g, CudaArray ginv) {
    int m = Checks.stack("g", g);
    if (!(Arrays.equals(g.shape(), ginv.shape()))) {
      throw new IllegalArgumentException("ginv " + shape(ginv) + " must have the shape of g " + shape(g));
    }
    return m;
  }

  /**
   * The inversion, entirely on the stream (no host synchronisation, no upload; every workspace reaches its
   * size on the first call): symmetrise + damp with the factors {@code eps} (nEps entries: m, or 1 for all),
   * which also flags a non-finite damped matrix; Cholesky; {@code rfim_inverse_status} (the A11 decision
   * per slice, and the updates of {@code epsUpdate} and {@code failures} when they are not null); the
   * inverse; the guarded copy of the slices whose status is 0 into ginv. A stack uses potrfBatched, two
   * batched triangular solves against identities (its pointer tables are written by a kernel); a single
   * D x D matrix uses potrf and potri, run whatever the factorisation gave, then a mirror kernel.
   *
   * @return the status buffer: m statuses, then m potrf infos, then potri's info (single matrix)
   */
  private CUdeviceptr invert(CudaArray G, CudaArray GI, int m, CUdeviceptr eps, int nEps, double epsAbs,
      CUdeviceptr epsUpdate, CUdeviceptr failures) {
    return invert(mainInv, G.ptr(), G.shape().length == 2, G.cols(), GI.ptr(), m, eps, nEps, epsAbs, epsUpdate,
        failures, 0);
  }

  /**
   * {@link #invert(CudaArray, CudaArray, int, CUdeviceptr, int, double, CUdeviceptr, CUdeviceptr)} on raw
   * pointers: g and ginv hold m d x d slices ({@code single}: one 2-D matrix); with {@code perCounter > 0} a
   * failure of slice q counts in {@code failures[q / perCounter]}.
   */
  private CUdeviceptr invert(Inv w, CUdeviceptr g, boolean single, int d, CUdeviceptr gi, int m, CUdeviceptr eps,
      int nEps, double epsAbs, CUdeviceptr epsUpdate, CUdeviceptr failures, int perCounter) {
    long dd = (long) d * d;
    Cusolver solver = w.solver;
    Cublas blas = w.blas;
    CUdeviceptr a = w.a.ensure(m * dd * Sizeof.FLOAT);
    // [m statuses | m factorisation infos | potri's info | the wide damping kernel's per-block flags]
    CUdeviceptr st = w.info.ensure((2L * m + 1 + k.maxBlocks()) * Sizeof.INT);
    CUdeviceptr info = st.withByteOffset((long) m * Sizeof.INT);
    int grid = Math.min(m, 4096);
    if (single) {
      // the whole grid damps the one matrix (each block also sums the trace); flags after potri's info
      int blocks = k.gridFor(dd);
      CUdeviceptr flags = st.withByteOffset((2L * m + 1) * Sizeof.INT);
      k.launchGrid(k.symDampWide, blocks, Kernels.BLOCK, g, d, eps, (float) epsAbs, a, flags);
      int lwork = workSize(w, d, a);
      CUdeviceptr work = w.work.ensure((long) lwork * Sizeof.FLOAT);
      solver.potrf(d, a, work, lwork, info);
      k.launchGrid(k.inverseStatus, 1, Kernels.BLOCK, a, info, 1, d, st, epsUpdate, failures, perCounter, flags,
          blocks);
      // Unconditionally: a failed factor gives an inverse that the guarded copy skips.
      solver.potri(d, a, work, lwork, info.withByteOffset(Sizeof.INT));
      // potri wrote the column-major lower = row-major upper triangle: mirrored while copied
      k.launchN(k.copyOkUpper, dd, a, st, d, gi);
    } else {
      CUdeviceptr bws = w.b.ensure(m * dd * Sizeof.FLOAT);
      k.launchGrid(k.symDamp, grid, Kernels.BLOCK, g, m, d, eps, nEps, (float) epsAbs, a, bws, st);
      // The pointer tables of the batched calls are constant for given workspaces: uploaded once (cached), or
      // written by a kernel when a captured step first needs them.
      java.nio.ByteBuffer t = java.nio.ByteBuffer.allocate(2 * m * Sizeof.POINTER)
          .order(java.nio.ByteOrder.nativeOrder());
      long aAt = DescriptorTables.address(a);
      long bAt = DescriptorTables.address(bws);
      for (int q = 0; q < m; q++) {
        t.putLong(q * 8, aAt + q * dd * Sizeof.FLOAT);
        t.putLong((m + q) * 8, bAt + q * dd * Sizeof.FLOAT);
      }
      CUdeviceptr aPtrs = tables.cached(t.array());
      if (aPtrs == null) {
        aPtrs = w.ptrs.ensure(2L * m * Sizeof.POINTER);
        k.launchN(k.pointerTables, m, a, bws, dd, m, aPtrs, aPtrs.withByteOffset((long) m * Sizeof.POINTER));
      }
      CUdeviceptr bPtrs = aPtrs.withByteOffset((long) m * Sizeof.POINTER);
      solver.potrfBatched(d, aPtrs, info, m);
      k.launchGrid(k.inverseStatus, grid, Kernels.BLOCK, a, info, m, d, st, epsUpdate, failures, perCounter, null,
          0);
      blas.trsmLowerBatched(false, d, aPtrs, bPtrs, m);  // B = L^{-1}
      blas.trsmLowerBatched(true, d, aPtrs, bPtrs, m);   // B = L^{-T} L^{-1} = (L L^T)^{-1}
      k.launchN(k.copyOkSlices, m * dd, bws, st, m, d, gi);
    }
    return st;
  }

  /** Work size (floats) of potrf and potri for one D x D matrix, queried once per D (host-only calls). */
  private static int workSize(Inv w, int d, CUdeviceptr a) {
    if (d != w.workD) {
      w.workFloats = Math.max(w.solver.potrfBufferSize(d, a), w.solver.potriBufferSize(d, a));
      w.workD = d;
    }
    return w.workFloats;
  }

  /**
   * The damping factors of g on the device: one small buffer per metric, uploaded (a host synchronisation)
   * only when the factors changed since the last inversion of that metric, i.e. after a failure.
   */
  private synchronized CUdeviceptr epsFor(CudaArray g, float[] eps) {
    EpsCache c = epsCache.computeIfAbsent(g.storage(), x -> new EpsCache(rt));
    if (c.values == null || !Arrays.equals(c.values, eps)) {
      CUdeviceptr p = c.buf.ensure((long) eps.length * Sizeof.FLOAT);
      rt.hostSync("batchedInverse (damping upload)");
      rt.rec.noteTransfer(true, (long) eps.length * Sizeof.FLOAT);
      cuMemcpyHtoD(p, Pointer.to(eps), (long) eps.length * Sizeof.FLOAT);
      c.values = eps.clone();
    }
    return c.buf.ensure((long) eps.length * Sizeof.FLOAT);
  }

  /** Frees the damping factors of metrics stored in {@code root} (it is being closed). */
  synchronized void evict(CudaArray root) {
    epsCache.entrySet().removeIf(e -> {
      if (e.getKey().root() != root) {
        return false;
      }
      e.getValue().buf.close();
      return true;
    });
  }

  synchronized int cachedDampings() {
    return epsCache.size();
  }

  private static final class EpsCache {
    final DeviceBuffer buf;
    float[] values;

    EpsCache(CudaRuntime rt) {
      buf = new DeviceBuffer("eps", rt);
    }
  }

  private int[] downloadInts(CUdeviceptr p, int n) {
    int[] out = new int[n];
    rt.hostSync("batchedInverse (status readback)");
    rt.rec.noteTransfer(false, (long) n * Sizeof.INT);
    cuMemcpyDtoH(Pointer.to(out), p, (long) n * Sizeof.INT);
    return out;
  }

  private static void checkInfo(int[] info, String what) {
    for (int i = 0; i < info.length; i++) {
      if (info[i] < 0) {
        throw new IllegalStateException(what + " rejected argument " + (-info[i]) + " (info " + info[i]
            + ", matrix " + i + "): a bug in CudaBackend");
      }
    }
  }

  void perNeuronPrecondition(DeviceArray ginv, DeviceArray grad, double alpha, double beta, DeviceArray out) {
    CudaArray GI = arrays.arr("ginv", ginv);
    CudaArray GR = arrays.arr("grad", grad);
    CudaArray O = arrays.arr("out", out);
    backend.enter();
    int d = GR.rows();
    int m = GR.cols();
    int[] gs = GI.shape();
    if (!(gs.length == 3 && gs[0] == m && gs[1] == d && gs[2] == d)) {
      throw new IllegalArgumentException("ginv must be " + m + " x " + d + " x " + d + " for grad " + shape(GR)
          + " but is " + shape(GI));
    }
    matrix("out", O, d, m);
    CUdeviceptr g = GR.ptr();
    if (GR.overlaps(O)) {  // out may be grad itself: read from a copy
      g = gramWs.ensure(GR.size() * Sizeof.FLOAT);
      rt.copyAsync(g, GR.ptr(), GR.size() * Sizeof.FLOAT);
    }
    // Column i of the row-major D x m gradient is the column-major 1 x D row at grad + i with ld m; the
    // row-major ginv_i is the column-major ginv_i^T, so out_i^T = grad_i^T ginv_i^T, one batch per neuron.
    blas.gemmStridedBatchedColMajor(false, false, 1, d, d, alpha, g, m, 1, GI.ptr(), d, (long) d * d, beta,
        O.ptr(), m, 1, m);
  }

  @Override
  public synchronized void close() {
    for (DeviceBuffer b : new DeviceBuffer[] {gramWs, invA, invB, invInfo, invPtrs, invWork}) {
      b.close();
    }
    if (sideInv != null) {
      for (DeviceBuffer b : new DeviceBuffer[] {sideInv.a, sideInv.b, sideInv.info, sideInv.ptrs, sideInv.work}) {
        b.close();
      }
      sideInv.solver.close();
      sideInv.blas.close();
      sideInv = null;
    }
    epsCache.values().forEach(c -> c.buf.close());
    epsCache.clear();
    tables.close();
  }
}
