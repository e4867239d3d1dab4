package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.ReplayableStep;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.backend.cpu.CpuBackend32;

/**
 * {@code refreshInverses} on the CUDA backend (MATH.md section 8, failure rule A11): the same results as the
 * CPU backend (the reference semantics) for a stack and for single matrices, including slices that are not
 * positive definite, hold a NaN off the diagonal or an infinite diagonal entry; no host synchronisation;
 * capturable into a CUDA graph like a normal step; and the status kernel's factor-diagonal check, which a
 * real cuSOLVER needs (it need not flag a NaN pivot; the simulator's stand-in does, so it is tested directly).
 *
 * <p>Tolerances. Inputs are float32 values on both backends (rounded before upload), so only the arithmetic
 * differs: the CPU inverts in float64, the GPU in float32 (the simulator's cuSOLVER in float64 on float
 * data). A Cholesky inverse in float32 has a forward error of order d * kappa(A) * 2^-24 relative to the
 * largest entry; the random slices are M M^T / d + I with |M_ij| < 1 (kappa below 1 + d/3, so 3 for d = 6)
 * and the near-singular slice is diagonal (its only error is the rounding of the damped pivot, a few ulp).
 * INV_TOL = 2e-5 of max(1, max |cpu| over the slice) is about 20 times that bound and still far below what an
 * indexing or convention error gives (order 1e-2 or more). Damping factors are float32 copies of the CPU's
 * doubles (doubling is exact), so EPS_TOL = 1e-7 relative; failure counts and kept slices are exact.
 *
 * <p>Second reference: the float32 CPU engine ({@link CpuBackend32}), which holds its damping factors in
 * float32 as the GPU does, so against it the damping factors must agree exactly (tolerance 0 instead of
 * EPS_TOL), and which fails a Cholesky factorisation wherever float32 does: a metric that is singular only
 * after rounding to float32 (the float64 reference inverts it) must fail on the GPU exactly as on the float32
 * engine. Inverse values keep the float64 reference and INV_TOL: two float32 inverses computed in different
 * orders differ by as much as either differs from the float64 one, so the float32 engine would not make
 * that tolerance tighter.
 */
class CudaRefreshInversesTest extends GpuBackendTest {
  static final double INV_TOL = 2e-5;
  static final double EPS_TOL = 1e-7;
  static CpuBackend cpu;
  static CpuBackend32 cpu32;

  @BeforeAll
  static void openCpu() {
    cpu = new CpuBackend(1, CpuBackend.defaultGemmPath());
    cpu32 = new CpuBackend32(1, CpuBackend.defaultGemmPath());
  }

  @AfterAll
  static void closeCpu() {
    if (cpu != null) {
      cpu.close();
      cpu = null;
    }
    if (cpu32 != null) {
      cpu32.close();
      cpu32 = null;
    }
  }

  /**
   * The GPU's runs against the float32 CPU engine's on the same inputs: the damping factors and failure
   * counts exactly equal after every call, and a slice kept (not refreshed) on one is kept on the other.
   */
  static void sameAsFloat32Engine(int[] shape, double[] g, double[] eps, double epsAbs, double[] prev,
      double failures, List<State> gpuRuns) {
    List<State> f = run(cpu32, shape, g, eps, epsAbs, prev, failures, gpuRuns.size() - 1);
    int m = eps.length;
    int dd = shape[shape.length - 1] * shape[shape.length - 1];
    for (int call = 1; call < f.size(); call++) {
      String at = "call " + call + " vs the float32 engine: ";
      assertArrayEquals(f.get(call).eps(), gpuRuns.get(call).eps(), 0.0, at + "epsRel");
      assertEquals(f.get(call).failures(), gpuRuns.get(call).failures(), 0.0, at + "failures");
      for (int i = 0; i < m; i++) {
        boolean keptF = Arrays.equals(Arrays.copyOfRange(f.get(call - 1).ginv(), i * dd, (i + 1) * dd),
            Arrays.copyOfRange(f.get(call).ginv(), i * dd, (i + 1) * dd));
        boolean keptG = Arrays.equals(Arrays.copyOfRange(gpuRuns.get(call - 1).ginv(), i * dd, (i + 1) * dd),
            Arrays.copyOfRange(gpuRuns.get(call).ginv(), i * dd, (i + 1) * dd));
        assertEquals(keptF, keptG, at + "slice " + i + " kept");
      }
    }
  }

  /** Rounds to float32, so both backends see the same inputs. */
  static double[] f32(double[] v) {
    double[] o = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      o[i] = (float) v[i];
    }
    return o;
  }

  /** Symmetric positive definite d x d: M M^T / d + I, |M_ij| < 1. */
  static double[] spd(Random r, int d) {
    double[] mm = new double[d * d];
    for (int i = 0; i < mm.length; i++) {
      mm[i] = r.nextDouble() * 2 - 1;
    }
    double[] a = new double[d * d];
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        double s = i == j ? 1 : 0;
        for (int p = 0; p < d; p++) {
          s += mm[i * d + p] * mm[j * d + p] / d;
        }
        a[i * d + j] = s;
      }
    }
    return a;
  }

  static double[] rnd(Random r, int n) {
    double[] a = new double[n];
    for (int i = 0; i < n; i++) {
      a[i] = r.nextDouble() * 2 - 1;
    }
    return a;
  }

  /** The state after each call of a run: ginv, epsRel and failures[0]. */
  record State(double[] ginv, double[] eps, double failures) {}

  /**
   * Uploads g (shape), epsRel, a previous ginv and a failure count to {@code b}, calls refreshInverses
   * {@code calls} times and returns the state before the first call (index 0) and after each call.
   */
  static List<State> run(Backend b, int[] shape, double[] g, double[] eps, double epsAbs, double[] prev,
      double failures, int calls) {
    List<State> out = new ArrayList<>();
    try (DeviceArray G = b.allocate(shape); DeviceArray GI = b.allocate(shape);
        DeviceArray E = b.allocate(eps.length); DeviceArray F = b.allocate(1)) {
      b.upload(G, g);
      b.upload(GI, prev);
      b.upload(E, eps);
      b.upload(F, new double[] {failures});
      out.add(new State(b.download(GI), b.download(E), b.download(F)[0]));
      for (int c = 0; c < calls; c++) {
        b.refreshInverses(G, E, epsAbs, GI, F);
        out.add(new State(b.download(GI), b.download(E), b.download(F)[0]));
      }
    }
    return out;
  }

  /** |cuda - cpu| <= tol * max(1, max |cpu|) over one slice. */
  static void nearSlice(double[] cpuV, double[] gpuV, int off, int n, double tol, String what) {
    double scale = 1;
    for (int i = off; i < off + n; i++) {
      scale = Math.max(scale, Math.abs(cpuV[i]));
    }
    for (int i = off; i < off + n; i++) {
      double err = Math.abs(cpuV[i] - gpuV[i]);
      if (!(err <= tol * scale)) {
        throw new AssertionError(what + ": element " + (i - off) + " cpu " + cpuV[i] + " cuda " + gpuV[i]
            + " (tol " + tol + " x " + scale + ")");
      }
    }
  }

  /**
   * Compares the CUDA and CPU runs call by call: failing slices (per call) keep the previous ginv exactly on
   * both, good slices equal the CPU's inverse, epsRel and the failure count equal the CPU's and the expected
   * values.
   */
  static void sameRuns(List<State> c, List<State> g, int m, int d, boolean[][] failing, double[][] expectedEps,
      double[] expectedFailures) {
    int dd = d * d;
    for (int call = 1; call < c.size(); call++) {
      State cs = c.get(call);
      State gs = g.get(call);
      String at = "call " + call;
      for (int i = 0; i < m; i++) {
        if (failing[call - 1][i]) {
          double[] cPrev = Arrays.copyOfRange(c.get(call - 1).ginv(), i * dd, (i + 1) * dd);
          double[] gPrev = Arrays.copyOfRange(g.get(call - 1).ginv(), i * dd, (i + 1) * dd);
          assertArrayEquals(cPrev, Arrays.copyOfRange(cs.ginv(), i * dd, (i + 1) * dd), 0.0,
              at + ": cpu keeps failed slice " + i);
          assertArrayEquals(gPrev, Arrays.copyOfRange(gs.ginv(), i * dd, (i + 1) * dd), 0.0,
              at + ": cuda keeps failed slice " + i);
        } else {
          nearSlice(cs.ginv(), gs.ginv(), i * dd, dd, INV_TOL, at + ": inverse of slice " + i);
          assertTrue(Math.abs(gs.ginv()[i * dd] - g.get(0).ginv()[i * dd]) > 1e-3,
              at + ": slice " + i + " was inverted (differs from the initial ginv)");
        }
        double e = expectedEps[call - 1][i];
        assertEquals(e, cs.eps()[i], 0.0, at + ": cpu epsRel " + i);
        assertEquals(e, gs.eps()[i], EPS_TOL * e, at + ": cuda epsRel " + i);
      }
      assertEquals(expectedFailures[call - 1], cs.failures(), 0.0, at + ": cpu failures");
      assertEquals(expectedFailures[call - 1], gs.failures(), 0.0, at + ": cuda failures");
    }
  }

  /**
   * A stack of 7 (d = 6), two calls. Slices: 0, 1 (slightly asymmetric), 6 (epsRel 0) positive definite;
   * 2 negative definite with epsRel 0 (-> 1e-8 -> 2e-8); 3 NaN above the diagonal; 4 an infinite diagonal
   * entry; 5 diag(1, ..., 1, -7e-4), which fails at epsRel 1e-4 (shift 5.0e-4 with epsAbs 1e-6) and is
   * inverted at the doubled 2e-4 (pivot 3.0e-4).
   */
  @Test
  void stackMatchesTheCpuBackend() {
    int m = 7;
    int d = 6;
    int dd = d * d;
    Random r = new Random(11);
    double[] g = new double[m * dd];
    for (int i = 0; i < m; i++) {
      System.arraycopy(spd(r, d), 0, g, i * dd, dd);
    }
    g[dd + 1] += 0.01;
    for (int j = 0; j < d; j++) {
      g[2 * dd + j * d + j] = -5;
    }
    g[3 * dd + 1 * d + 4] = Double.NaN;
    g[4 * dd + 2 * d + 2] = Double.POSITIVE_INFINITY;
    Arrays.fill(g, 5 * dd, 6 * dd, 0);
    for (int j = 0; j < d; j++) {
      g[5 * dd + j * d + j] = j == d - 1 ? -7e-4 : 1;
    }
    g = f32(g);
    double[] eps = f32(new double[] {1e-4, 1e-3, 0, 1e-4, 1e-4, 1e-4, 0});
    double[] prev = f32(rnd(r, m * dd));
    int[] shape = {m, d, d};
    List<State> c = run(cpu, shape, g, eps, 1e-6, prev, 3, 2);
    List<State> gg = run(be, shape, g, eps, 1e-6, prev, 3, 2);
    boolean[][] failing = {
      {false, false, true, true, true, true, false},
      {false, false, true, true, true, false, false}};
    double[][] expectedEps = {
      {eps[0], eps[1], 1e-8, 2 * eps[3], 2 * eps[4], 2 * eps[5], 0},
      {eps[0], eps[1], 2e-8, 4 * eps[3], 4 * eps[4], 2 * eps[5], 0}};
    sameRuns(c, gg, m, d, failing, expectedEps, new double[] {7, 10});
    sameAsFloat32Engine(shape, g, eps, 1e-6, prev, 3, gg);
  }

  /**
   * A metric singular only in float32: 1 1^T + 1e-9 I (d = 4) is positive definite in float64, but 1 + 1e-9
   * rounds to 1 in float32, so the stored matrix is exactly 1 1^T. With epsRel 0 and epsAbs 0 the float64
   * reference inverts it; the GPU must fail twice (the damping 1e-8 and then 2e-8 times the trace 4 stays
   * below half an ulp of 1, so the damped matrix is still exactly singular), keeping the previous inverse,
   * exactly as the float32 CPU engine does.
   */
  @Test
  void aMetricSingularOnlyInFloat32FailsAsOnTheFloat32Engine() {
    int d = 4;
    double[] g = new double[d * d];
    Arrays.fill(g, 1.0);
    for (int j = 0; j < d; j++) {
      g[j * d + j] += 1e-9;
    }
    double[] prev = f32(rnd(new Random(14), d * d));
    double[] eps = {0};
    try (DeviceArray cg = cpu.allocate(d, d); DeviceArray cgi = cpu.allocate(d, d)) {
      cpu.upload(cg, g);
      assertArrayEquals(new int[] {0}, cpu.batchedInverse(cg, new double[] {0}, 0, cgi),
          "float64 inverts 1 1^T + 1e-9 I");
    }
    List<State> gg = run(be, new int[] {d, d}, g, eps, 0, prev, 0, 2);
    assertArrayEquals(new double[] {(float) 1e-8}, gg.get(1).eps(), 0.0, "first failure: 1e-8");
    assertArrayEquals(new double[] {(float) 2e-8}, gg.get(2).eps(), 0.0, "second failure: doubled");
    assertEquals(2, gg.get(2).failures(), 0.0, "two failures");
    assertArrayEquals(prev, gg.get(2).ginv(), 0.0, "the previous inverse is kept");
    sameAsFloat32Engine(new int[] {d, d}, g, eps, 0, prev, 0, gg);
  }

  /**
   * Single D x D matrices (the potrf + potri path), one call each: positive definite; NaN below the
   * diagonal; negative definite with epsRel 0; an infinite diagonal entry; then a near-singular one that
   * fails and recovers with the doubled damping over two calls.
   */
  @Test
  void singleMatrixMatchesTheCpuBackend() {
    int d = 5;
    Random r = new Random(12);
    double[] prev = f32(rnd(r, d * d));
    double[] good = f32(spd(r, d));
    double[] nan = f32(spd(r, d));
    nan[3 * d] = Double.NaN;
    double[] neg = f32(spd(r, d));
    for (int j = 0; j < d; j++) {
      neg[j * d + j] = -5;
    }
    double[] inf = f32(spd(r, d));
    inf[d + 1] = Double.POSITIVE_INFINITY;
    double[][] gs = {good, nan, neg, inf};
    double[] eps0 = {1e-4, 1e-4, 0, 1e-4};
    for (int q = 0; q < gs.length; q++) {
      double[] eps = f32(new double[] {eps0[q]});
      List<State> c = run(cpu, new int[] {d, d}, gs[q], eps, 0, prev, 0, 1);
      List<State> g = run(be, new int[] {d, d}, gs[q], eps, 0, prev, 0, 1);
      boolean fails = q > 0;
      double expected = !fails ? eps[0] : eps[0] > 0 ? 2 * eps[0] : 1e-8;
      sameRuns(c, g, 1, d, new boolean[][] {{fails}}, new double[][] {{expected}}, new double[] {fails ? 1 : 0});
      sameAsFloat32Engine(new int[] {d, d}, gs[q], eps, 0, prev, 0, g);
    }
    double[] near = new double[d * d];
    for (int j = 0; j < d; j++) {
      near[j * d + j] = j == 0 ? -5e-4 : 1;  // shift 4.0e-4 at epsRel 1e-4 fails, 8.0e-4 succeeds
    }
    near[d + 2] = 0.25;
    near[2 * d + 1] = 0.25;
    double[] eps = f32(new double[] {1e-4});
    near = f32(near);
    List<State> c = run(cpu, new int[] {d, d}, near, eps, 0, prev, 0, 2);
    List<State> g = run(be, new int[] {d, d}, near, eps, 0, prev, 0, 2);
    sameRuns(c, g, 1, d, new boolean[][] {{true}, {false}}, new double[][] {{2 * eps[0]}, {2 * eps[0]}},
        new double[] {1, 1});
    sameAsFloat32Engine(new int[] {d, d}, near, eps, 0, prev, 0, g);
  }

  /** refreshInverses never synchronises with the host (stack and single), not even on its first call. */
  @Test
  void noHostSynchronisation() {
    int m = 5;
    int d = 7;
    Random r = new Random(13);
    double[] g = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      System.arraycopy(spd(r, d), 0, g, i * d * d, d * d);
    }
    g[2 * d * d + 3] = Double.NaN;  // a failing slice: the failure path must not sync either
    try (DeviceArray G = be.allocate(m, d, d); DeviceArray GI = be.allocate(m, d, d);
        DeviceArray E = be.allocate(m); DeviceArray F = be.allocate(1);
        DeviceArray S = be.allocate(d + 3, d + 3); DeviceArray SI = be.allocate(d + 3, d + 3);
        DeviceArray E1 = be.allocate(1)) {
      be.upload(G, g);
      be.upload(S, spd(r, d + 3));
      be.fill(E, 1e-4);
      be.fill(E1, 1e-4);
      be.fill(F, 0);
      be.synchronize();
      be.resetCounts();
      be.refreshInverses(G, E, 0, GI, F);
      be.refreshInverses(S, E1, 0, SI, F);
      Map<String, Long> first = be.counts();
      be.resetCounts();
      be.refreshInverses(G, E, 0, GI, F);
      Map<String, Long> stack = be.counts();
      be.resetCounts();
      be.refreshInverses(S, E1, 0, SI, F);
      Map<String, Long> single = be.counts();
      be.resetCounts();
      double[] eps = new double[m];
      Arrays.fill(eps, 1e-4);
      be.batchedInverse(G, eps, 0, GI);  // warm its damping cache
      be.resetCounts();
      int[] status = be.batchedInverse(G, eps, 0, GI);
      Map<String, Long> batched = be.counts();
      // The NaN slice fails at the first pivot (rfim_sym_damp's check), as on the CPU.
      assertArrayEquals(new int[] {0, 0, 1, 0, 0}, status, "batchedInverse status");
      try (DeviceArray cg = cpu.allocate(m, d, d); DeviceArray cgi = cpu.allocate(m, d, d)) {
        cpu.upload(cg, g);
        assertArrayEquals(status, cpu.batchedInverse(cg, eps, 0, cgi), "the CPU's status");
      }
      System.out.println("[refresh-syncs] refreshInverses first calls (stack + single) " + first + ", stack m=" + m
          + " d=" + d + " " + stack + ", single d=" + (d + 3) + " " + single + "; batchedInverse " + batched);
      assertEquals(0, first.get("syncs"), "first calls");
      assertEquals(0, stack.get("syncs"), "stack");
      assertEquals(0, single.get("syncs"), "single");
      assertEquals(0, stack.get("copies") + single.get("copies"), "no uploads or copies");
      assertEquals(1, batched.get("syncs"), "batchedInverse reads its status back once");
      assertEquals(2, be.download(F)[0], 0.0, "the NaN slice failed in both stack refreshes");
    }
  }

  /**
   * A step with two refreshes (a stack and a single matrix sharing one failure counter), each after a
   * diagonal shift of its metric, captured with captureStep: run 1 eager, run 2 captured and launched, runs
   * 3-6 replayed. After every run the results equal those of the same step run eagerly on a second set of
   * arrays, bit for bit (the same kernels on the same data); replays neither synchronise nor issue work
   * outside the graph. The failing slice's damping keeps doubling and the counter keeps growing across
   * replays, so the graph reads and writes the device state each time.
   */
  @Test
  void capturedRefreshReplaysLikeEagerRuns() {
    int m = 4;
    int d = 6;
    int ds = 5;
    Random r = new Random(14);
    double[] g = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      System.arraycopy(spd(r, d), 0, g, i * d * d, d * d);
    }
    g[d * d + 4 * d + 1] = Double.NaN;  // slice 1 fails every time
    Arrays.fill(g, 3 * d * d, 4 * d * d, 0);
    for (int j = 0; j < d; j++) {  // slice 3 fails on run 1 only (-0.01 then 0.04, 0.09, ... at entry 2)
      g[3 * d * d + j * d + j] = j == 2 ? -0.06 : 1;
    }
    double[] s = new double[ds * ds];  // the single matrix likewise, with epsRel 0 (-> 1e-8)
    for (int j = 0; j < ds; j++) {
      s[j * ds + j] = j == 0 ? -0.06 : 1;
    }
    s[ds + 2] = 0.1;
    s[2 * ds + 1] = 0.1;
    double[] prev = rnd(r, m * d * d);
    double[] prevS = rnd(r, ds * ds);
    int runs = 6;
    List<double[][]> eager = new ArrayList<>();
    List<double[][]> graph = new ArrayList<>();
    long[] graphCounts = new long[4];
    for (int mode = 0; mode < 2; mode++) {
      try (DeviceArray G = be.allocate(m, d, d); DeviceArray GI = be.allocate(m, d, d);
          DeviceArray E = be.allocate(m); DeviceArray F = be.allocate(1);
          DeviceArray S = be.allocate(ds, ds); DeviceArray SI = be.allocate(ds, ds);
          DeviceArray ES = be.allocate(1)) {
        be.upload(G, g);
        be.upload(GI, prev);
        be.upload(S, s);
        be.upload(SI, prevS);
        be.fill(E, 1e-4);
        be.fill(ES, 0);
        be.fill(F, 0);
        Runnable step = () -> {
          be.addDiagonal(G, 0.05);
          be.refreshInverses(G, E, 1e-6, GI, F);
          be.addDiagonal(S, 0.05);
          be.refreshInverses(S, ES, 0, SI, F);
        };
        ReplayableStep captured = mode == 1 ? be.captureStep("refresh", step) : null;
        List<double[][]> out = mode == 0 ? eager : graph;
        for (int run = 0; run < runs; run++) {
          be.synchronize();
          be.resetCounts();
          if (captured == null) {
            step.run();
          } else {
            captured.run();
            Map<String, Long> cts = be.counts();
            if (run >= 2) {  // replays
              graphCounts[0] += cts.get("graphs");
              graphCounts[1] += cts.get("syncs");
              graphCounts[2] += cts.get("kernels") + cts.get("library");
              graphCounts[3] += cts.get("copies");
            }
          }
          out.add(new double[][] {be.download(GI), be.download(E), be.download(F), be.download(SI),
            be.download(ES), be.download(G), be.download(S)});
        }
        if (captured != null) {
          assertTrue(captured.captured(), "the refresh step was captured");
          captured.close();
        }
      }
    }
    String[] names = {"ginv", "epsRel", "failures", "single ginv", "single epsRel", "g", "single g"};
    for (int run = 0; run < runs; run++) {
      for (int a = 0; a < names.length; a++) {
        assertArrayEquals(eager.get(run)[a], graph.get(run)[a], 0.0, "run " + run + ": " + names[a]);
      }
    }
    double[][] last = graph.get(runs - 1);
    assertEquals(runs + 2, last[2][0], 0.0, "failures: slice 1 on every run, slice 3 and the single matrix once");
    assertEquals(1e-4 * Math.pow(2, runs), last[1][1], 1e-4 * Math.pow(2, runs) * EPS_TOL, "slice 1 damping");
    assertEquals(1e-8, last[4][0], 1e-8 * EPS_TOL, "single matrix damping 0 -> 1e-8, then unchanged");
    assertTrue(!Arrays.equals(graph.get(0)[0], graph.get(1)[0]) && !Arrays.equals(graph.get(4)[3], graph.get(5)[3]),
        "the inverses change from run to run");
    assertEquals(runs - 2, graphCounts[0], "one graph launch per replay");
    assertEquals(0, graphCounts[1], "replays do not synchronise");
    assertEquals(0, graphCounts[2], "replays issue no work outside the graph");
    assertEquals(0, graphCounts[3], "no parameter-block copy: nothing in the step changes per run");
  }

  static CudaArray cu(DeviceArray a) {
    return (CudaArray) a;
  }

  static float[] intBits(int... v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = Float.intBitsToFloat(v[i]);
    }
    return f;
  }

  static int[] ints(double[] v) {
    int[] o = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      o[i] = Float.floatToRawIntBits((float) v[i]);
    }
    return o;
  }

  /**
   * rfim_inverse_status on crafted factors, launched directly (a grid smaller than the stack, so blocks
   * loop): a NaN, infinite, zero or negative diagonal entry fails the slice even with info 0 (the first bad
   * entry, 1-based, is its status), info and the damping check of rfim_sym_damp (status 1 on entry) are
   * kept, every failure doubles its epsRel (0 -> 1e-8) and counts once. Without epsRel and failures (the
   * batchedInverse path) only the statuses are written.
   */
  @Test
  void statusKernelChecksTheFactorDiagonal() {
    int count = 7;
    int d = 4;
    double[] f = new double[count * d * d];
    for (int q = 0; q < count; q++) {
      for (int j = 0; j < d; j++) {
        f[(q * d + j) * d + j] = 1 + j;
        if (j > 0) {
          f[(q * d + j) * d] = 0.5;  // off-diagonal entries are not checked
        }
      }
    }
    f[(1 * d + 2) * d + 2] = Double.NaN;
    f[(2 * d + 1) * d + 1] = Double.POSITIVE_INFINITY;
    f[(3 * d + 3) * d + 3] = 0;
    f[(4 * d + 0) * d + 0] = -1;
    f[(4 * d + 2) * d + 2] = Double.NaN;
    f[(0 * d + 3) * d + 1] = Double.NaN;
    int[] info = {0, 0, 0, 0, 0, 2, 0};
    int[] pre = {0, 0, 0, 0, 0, 0, 1};
    int[] expected = {0, 3, 2, 4, 1, 2, 1};
    double[] eps = f32(new double[] {1e-4, 1e-4, 0, 3e-4, 1e-4, 1e-4, -1});
    double[] epsAfter = {eps[0], 2 * eps[1], 1e-8, 2 * eps[3], 2 * eps[4], 2 * eps[5], 1e-8};
    try (DeviceArray fac = be.allocate(count, d, d); DeviceArray inf = be.allocate(count);
        DeviceArray st = be.allocate(count); DeviceArray e = be.allocate(count);
        DeviceArray fails = be.allocate(1)) {
      be.upload(fac, f);
      be.upload(inf, intBits(info));
      be.upload(st, intBits(pre));
      be.upload(e, eps);
      be.upload(fails, new double[] {5});
      Kernels k = be.kernels;
      k.launchGrid(k.inverseStatus, 3, Kernels.BLOCK, cu(fac).ptr(), cu(inf).ptr(), count, d, cu(st).ptr(),
          cu(e).ptr(), cu(fails).ptr(), 0, null, 0);
      assertArrayEquals(expected, ints(be.download(st)), "statuses");
      double[] got = be.download(e);
      for (int q = 0; q < count; q++) {
        assertEquals(epsAfter[q], got[q], Math.abs(epsAfter[q]) * EPS_TOL, "epsRel " + q);
      }
      assertEquals(5 + 6, be.download(fails)[0], 0.0, "failures");
      be.upload(st, intBits(pre));
      k.launchGrid(k.inverseStatus, 2, 64, cu(fac).ptr(), cu(inf).ptr(), count, d, cu(st).ptr(), null, null, 0, null, 0);
      assertArrayEquals(expected, ints(be.download(st)), "statuses without the A11 updates");
      assertArrayEquals(got, be.download(e), 0.0, "epsRel untouched");
      assertEquals(11, be.download(fails)[0], 0.0, "failures untouched");
    }
  }
}
