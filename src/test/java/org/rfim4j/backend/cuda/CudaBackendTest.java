package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.ActivationMath;
import org.rfim4j.backend.DeviceArray;

/**
 * Every CudaBackend operation against a plain-Java float64 reference, with float32 tolerances. Runs on a
 * GPU or the CUDA simulator ({@link GpuTestSupport}); skips elsewhere unless rfim4j.gpu.required=true.
 */
class CudaBackendTest extends GpuBackendTest {
  static final Random R = new Random(7);
  static final Activation[] ACTS = {Activation.IDENTITY, Activation.TANH, Activation.SIGMOID, Activation.RELU,
    Activation.prelu(0.25), Activation.elu(0.7)};

  static double[] rnd(int n) {
    double[] a = new double[n];
    for (int i = 0; i < n; i++) {
      a[i] = R.nextDouble() * 2 - 1;
    }
    return a;
  }

  static DeviceArray dev(double[] v, int... shape) {
    DeviceArray a = be.allocate(shape);
    be.upload(a, v);
    return a;
  }

  static void near(double[] expected, double[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < expected.length; i++) {
      double e = expected[i];
      double err = Math.abs(e - actual[i]);
      if (!(err <= tol * Math.max(1, Math.abs(e)))) {
        throw new AssertionError(what + ": element " + i + " expected " + e + " got " + actual[i] + " (tol " + tol
            + ")");
      }
    }
  }

  @Test
  void memoryOps() {
    int live = be.liveArrays();
    DeviceArray a = be.allocate(3, 4);
    assertEquals(live + 1, be.liveArrays());
    near(new double[12], be.download(a), 0, "zero-filled");
    double[] v = rnd(12);
    be.upload(a, v);
    near(v, be.download(a), 1e-7, "upload double");
    float[] f = new float[12];
    for (int i = 0; i < 12; i++) {
      f[i] = i * 0.5f;
    }
    be.upload(a, f);
    assertEquals(5.5, be.download(a)[11], 0);
    DeviceArray view = be.rows(a, 1, 3);
    assertArrayEquals(new int[] {2, 4}, view.shape());
    be.fill(view, 2.5);
    double[] got = be.download(a);
    assertEquals(1.5, got[3], 0);
    assertEquals(2.5, got[4], 0);
    assertEquals(2.5, got[11], 0);
    DeviceArray b = be.allocate(12);
    be.copy(a, b);
    near(got, be.download(b), 0, "copy");
    view.close();
    assertEquals(live + 2, be.liveArrays());
    a.close();
    b.close();
    a.close();  // idempotent
    assertEquals(live, be.liveArrays());
    assertEquals(32, be.precisionBits());
    assertTrue(be.name().startsWith("cuda:0"));
    assertThrows(IllegalArgumentException.class, () -> be.allocate(0, 2));
  }

  @Test
  void usableFromAnotherThread() throws Exception {
    DeviceArray a = be.allocate(64);
    double[][] got = new double[1][];
    Throwable[] failure = new Throwable[1];
    Thread t = new Thread(() -> {
      try {
        be.fill(a, 3.0);  // the backend makes its context current on this new thread
        got[0] = be.download(a);
      } catch (Throwable e) {
        failure[0] = e;
      }
    });
    t.start();
    t.join();
    if (failure[0] != null) {
      throw new AssertionError("backend op on a second thread failed", failure[0]);
    }
    assertEquals(3.0, got[0][63], 0);
    a.close();
  }

  static double[] refGemm(boolean ta, boolean tb, double alpha, double[] a, int ar, int ac, double[] b, int br,
      int bc, double beta, double[] c) {
    int m = ta ? ac : ar;
    int k = ta ? ar : ac;
    int n = tb ? br : bc;
    double[] out = c.clone();
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int p = 0; p < k; p++) {
          double x = ta ? a[p * ac + i] : a[i * ac + p];
          double y = tb ? b[j * bc + p] : b[p * bc + j];
          s += x * y;
        }
        out[i * n + j] = alpha * s + beta * c[i * n + j];
      }
    }
    return out;
  }

  @Test
  void gemmAllTransposes() {
    int m = 5, k = 7, n = 3;
    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
        double[] a = rnd(ar * ac), b = rnd(br * bc), c = rnd(m * n);
        DeviceArray A = dev(a, ar, ac), B = dev(b, br, bc), C = dev(c, m, n);
        be.gemm(ta, tb, 0.7, A, B, -0.3, C);
        near(refGemm(ta, tb, 0.7, a, ar, ac, b, br, bc, -0.3, c), be.download(C), 1e-5, "gemm " + ta + tb);
        A.close();
        B.close();
        C.close();
      }
    }
    DeviceArray A = be.allocate(2, 3), B = be.allocate(4, 2), C = be.allocate(2, 2);
    assertThrows(IllegalArgumentException.class, () -> be.gemm(false, false, 1, A, B, 0, C));
    A.close();
    B.close();
    C.close();
  }

  @Test
  void blasLevel1AndReductions() {
    int n = 1000;
    double[] x = rnd(n), y = rnd(n);
    DeviceArray X = dev(x, n), Y = dev(y, n);
    double dot = 0;
    for (int i = 0; i < n; i++) {
      dot += x[i] * y[i];
    }
    assertEquals(dot, be.dot(X, Y), 1e-4);
    be.axpy(0.5, X, Y);
    double[] ey = y.clone();
    for (int i = 0; i < n; i++) {
      ey[i] += 0.5 * x[i];
    }
    near(ey, be.download(Y), 1e-6, "axpy");
    be.scale(-2, X);
    double[] ex = x.clone();
    for (int i = 0; i < n; i++) {
      ex[i] *= -2;
    }
    near(ex, be.download(X), 1e-6, "scale");
    X.close();
    Y.close();

    double[] a = rnd(6 * 4), out = rnd(4);
    DeviceArray Aa = dev(a, 6, 4), O = dev(out, 4);
    be.columnSums(Aa, 2.0, 0.5, O);
    double[] eo = new double[4];
    for (int j = 0; j < 4; j++) {
      double s = 0;
      for (int i = 0; i < 6; i++) {
        s += a[i * 4 + j];
      }
      eo[j] = 2 * s + 0.5 * out[j];
    }
    near(eo, be.download(O), 1e-5, "columnSums");

    DeviceArray idx = dev(new double[] {9, 5, 0, 2, 4}, 5), dst = be.allocate(3, 4);
    be.gatherRows(Aa, idx, 1, dst);
    double[] eg = new double[12];
    int[] rows = {5, 0, 2};
    for (int k = 0; k < 3; k++) {
      System.arraycopy(a, rows[k] * 4, eg, k * 4, 4);
    }
    near(eg, be.download(dst), 1e-7, "gatherRows");
    assertThrows(IllegalArgumentException.class, () -> be.gatherRows(Aa, idx, 3, dst));
    Aa.close();
    O.close();
    idx.close();
    dst.close();
  }

  @Test
  void activationsForwardBackwardAndNu() {
    int b = 5, n = 8;
    for (Activation act : ACTS) {
      double[] z = rnd(b * n), bias = rnd(n), dh = rnd(b * n);
      for (int i = 0; i < z.length; i++) {
        z[i] *= 4;  // cover saturation
      }
      z[0] = 0;  // the a == 0 conventions
      DeviceArray Z = dev(z, b, n), Bi = dev(bias, n), H = be.allocate(b, n);
      be.biasActivationForward(Z, Bi, act, H);
      double[] ea = new double[b * n], eh = new double[b * n], ed = new double[b * n], enu = new double[b * n];
      double[] a = be.download(Z);
      for (int i = 0; i < b * n; i++) {
        ea[i] = z[i] + bias[i % n];
        eh[i] = ActivationMath.f(act, a[i]);
        ed[i] = dh[i] * ActivationMath.df(act, a[i]);
        enu[i] = ActivationMath.nu(act, a[i], 0.5);
      }
      near(ea, a, 1e-6, act + " pre-activation");
      near(eh, be.download(H), 2e-6, act + " f");
      DeviceArray DH = dev(dh, b, n), DA = be.allocate(b, n), NU = be.allocate(b, n);
      be.activationBackward(act, Z, DH, DA);
      near(ed, be.download(DA), 2e-6, act + " f'");
      be.activationBackward(act, Z, DH, DH);  // in place
      near(ed, be.download(DH), 2e-6, act + " f' in place");
      be.nuCoefficients(act, Z, 0.5, NU);
      near(enu, be.download(NU), 2e-6, act + " nu");
      be.biasActivationForward(Z, Bi, act, null);  // h skipped
      for (DeviceArray d : new DeviceArray[] {Z, Bi, H, DH, DA, NU}) {
        d.close();
      }
    }
  }

  /**
   * softmaxNuCoefficients (one kernel on the GPU) against the CPU backend's float64 result, for rows of
   * moderate logits and rows with a dominant class (eta near 1, whose coefficient ~ 1 - eta ~ 1e-11 must
   * keep its relative accuracy), in place too: |cuda - cpu| <= 1e-5 |cpu| + 1e-9 (float32 exp and division
   * are accurate to a few ulp; the absolute term only covers coefficients far below 1e-9, which are still
   * checked relatively for the dominant rows). Mismatched shapes throw.
   */
  @Test
  void softmaxNuCoefficientsMatchTheCpuBackend() {
    int b = 41;
    int c = 10;
    double[] z = rnd(b * c);
    for (int i = 0; i < z.length; i++) {
      z[i] = (float) (z[i] * 6);
    }
    z[3 * c + 2] = 30;  // dominant classes
    z[7 * c + 9] = 25;
    z[8 * c] = 40;
    z[8 * c + 1] = 40;  // a tie
    double[] expected;
    try (org.rfim4j.backend.cpu.CpuBackend cpu = new org.rfim4j.backend.cpu.CpuBackend(1,
        org.rfim4j.backend.cpu.CpuBackend.defaultGemmPath()); DeviceArray cz = cpu.allocate(b, c);
        DeviceArray cn = cpu.allocate(b, c)) {
      cpu.upload(cz, z);
      cpu.softmaxNuCoefficients(cz, cn);
      expected = cpu.download(cn);
    }
    DeviceArray Z = dev(z, b, c);
    DeviceArray NU = be.allocate(b, c);
    be.resetCounts();
    be.softmaxNuCoefficients(Z, NU);
    assertEquals(0L, be.counts().get("syncs"), "no host round trip");
    assertEquals(1L, be.counts().get("kernels"), "one kernel");
    double[][] got = {be.download(NU), null};
    be.softmaxNuCoefficients(Z, Z);  // in place
    got[1] = be.download(Z);
    for (double[] g : got) {
      for (int i = 0; i < expected.length; i++) {
        double e = expected[i];
        if (!(Math.abs(g[i] - e) <= 1e-5 * Math.abs(e) + 1e-9)) {
          throw new AssertionError("nu element " + i + " expected " + e + " got " + g[i]);
        }
      }
    }
    // The CPU's eta (1 - eta) loses about 1e-16 / (1 - eta) relatively (1.5e-5 here) for a dominant class;
    // the reference for it sums 1 - eta from the other classes in float64.
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < c; j++) {
      max = Math.max(max, z[3 * c + j]);
    }
    double sum = 0;
    double others = 0;
    for (int j = 0; j < c; j++) {
      double e = Math.exp(z[3 * c + j] - max);
      sum += e;
      others += j == 2 ? 0 : e;
    }
    double tiny = (1 / sum) * (others / sum);
    assertTrue(tiny > 0 && tiny < 1e-9, "dominant class coefficient " + tiny);
    assertEquals(tiny, got[0][3 * c + 2], 1e-5 * tiny, "relative accuracy of the dominant class");
    DeviceArray wrong = be.allocate(b, c + 1);
    assertThrows(IllegalArgumentException.class, () -> be.softmaxNuCoefficients(NU, wrong));
    for (DeviceArray d : new DeviceArray[] {Z, NU, wrong}) {
      d.close();
    }
  }

  @Test
  void softmaxCrossEntropy() {
    int b = 37, c = 10;
    double[] z = rnd(b * c), y = new double[b];
    for (int i = 0; i < z.length; i++) {
      z[i] *= 5;
    }
    for (int k = 0; k < b; k++) {
      y[k] = R.nextInt(c);
    }
    DeviceArray Z = dev(z, b, c), Y = dev(y, b), P = be.allocate(b, c), D = be.allocate(b, c);
    DeviceArray S = dev(new double[] {1.0, 2.0}, 2);
    be.softmaxCrossEntropy(Z, Y, P, D, 1.0 / b, S);
    double[] ep = new double[b * c], ed = new double[b * c];
    double loss = 0, err = 0;
    for (int k = 0; k < b; k++) {
      double mx = Double.NEGATIVE_INFINITY;
      int am = 0;
      for (int j = 0; j < c; j++) {
        if (z[k * c + j] > mx) {
          mx = z[k * c + j];
          am = j;
        }
      }
      double s = 0;
      for (int j = 0; j < c; j++) {
        s += Math.exp(z[k * c + j] - mx);
      }
      int yk = (int) y[k];
      for (int j = 0; j < c; j++) {
        ep[k * c + j] = Math.exp(z[k * c + j] - mx) / s;
        ed[k * c + j] = (ep[k * c + j] - (j == yk ? 1 : 0)) / b;
      }
      loss += Math.log(s) - (z[k * c + yk] - mx);
      err += am != yk ? 1 : 0;
    }
    near(ep, be.download(P), 1e-5, "probs");
    near(ed, be.download(D), 1e-6, "dLogits");
    double[] st = be.download(S);
    assertEquals(1.0 + loss, st[0], 1e-4 * Math.max(1, loss));
    assertEquals(2.0 + err, st[1], 0);
    be.softmaxCrossEntropy(Z, Y, P, null, 1.0, S);
    assertEquals(1.0 + 2 * loss, be.download(S)[0], 2e-4 * Math.max(1, loss));
    for (DeviceArray d : new DeviceArray[] {Z, Y, P, D, S}) {
      d.close();
    }
  }

  @Test
  void batchNorm() {
    int b = 9, n = 5;
    double[] x = rnd(b * n), gamma = rnd(n), beta = rnd(n), rm = rnd(n), rv = new double[n], dy = rnd(b * n);
    for (int j = 0; j < n; j++) {
      rv[j] = 0.5 + j;
    }
    double mom = 0.9, eps = 1e-3;
    DeviceArray X = dev(x, b, n), G = dev(gamma, n), Be = dev(beta, n), RM = dev(rm, n), RV = dev(rv, n);
    DeviceArray M = be.allocate(n), IS = be.allocate(n), Yy = be.allocate(b, n);
    be.batchNormForward(X, G, Be, RM, RV, mom, eps, true, M, IS, Yy);
    double[] mean = new double[n], is = new double[n], erm = new double[n], erv = new double[n];
    double[] ey = new double[b * n], xhat = new double[b * n];
    for (int j = 0; j < n; j++) {
      double s = 0, q = 0;
      for (int k = 0; k < b; k++) {
        s += x[k * n + j];
      }
      mean[j] = s / b;
      for (int k = 0; k < b; k++) {
        q += (x[k * n + j] - mean[j]) * (x[k * n + j] - mean[j]);
      }
      is[j] = 1 / Math.sqrt(q / b + eps);
      erm[j] = mom * rm[j] + (1 - mom) * mean[j];
      erv[j] = mom * rv[j] + (1 - mom) * q / (b - 1);
      for (int k = 0; k < b; k++) {
        xhat[k * n + j] = (x[k * n + j] - mean[j]) * is[j];
        ey[k * n + j] = gamma[j] * xhat[k * n + j] + beta[j];
      }
    }
    near(mean, be.download(M), 1e-5, "bn mean");
    near(is, be.download(IS), 1e-5, "bn invStd");
    near(erm, be.download(RM), 1e-5, "bn running mean");
    near(erv, be.download(RV), 1e-5, "bn running var");
    near(ey, be.download(Yy), 1e-5, "bn y (train)");

    DeviceArray DY = dev(dy, b, n), DX = be.allocate(b, n), DG = be.allocate(n), DB = be.allocate(n);
    be.batchNormBackward(X, DY, G, M, IS, DX, DG, DB);
    double[] edx = new double[b * n], edg = new double[n], edb = new double[n];
    for (int j = 0; j < n; j++) {
      for (int k = 0; k < b; k++) {
        edb[j] += dy[k * n + j];
        edg[j] += dy[k * n + j] * xhat[k * n + j];
      }
      for (int k = 0; k < b; k++) {
        edx[k * n + j] = gamma[j] * is[j] / b * (b * dy[k * n + j] - edb[j] - xhat[k * n + j] * edg[j]);
      }
    }
    near(edb, be.download(DB), 1e-5, "bn dBeta");
    near(edg, be.download(DG), 1e-5, "bn dGamma");
    near(edx, be.download(DX), 1e-4, "bn dX");

    be.batchNormForward(X, G, Be, RM, RV, mom, eps, false, M, IS, Yy);
    double[] ei = new double[b * n];
    for (int k = 0; k < b; k++) {
      for (int j = 0; j < n; j++) {
        ei[k * n + j] = gamma[j] * (x[k * n + j] - erm[j]) / Math.sqrt(erv[j] + eps) + beta[j];
      }
    }
    near(ei, be.download(Yy), 1e-5, "bn y (inference)");
    for (DeviceArray d : new DeviceArray[] {X, G, Be, RM, RV, M, IS, Yy, DY, DX, DG, DB}) {
      d.close();
    }
  }

  @Test
  void optimizers() {
    int n = 50;
    double[] p = rnd(n), g = rnd(n), v = rnd(n);
    DeviceArray P = dev(p, n), G = dev(g, n), V = dev(v, n);
    be.sgdUpdate(P, G, null, 0.1, 0.9);
    double[] ep = p.clone();
    for (int i = 0; i < n; i++) {
      ep[i] -= 0.1 * g[i];
    }
    near(ep, be.download(P), 1e-6, "sgd");
    be.sgdUpdate(P, G, V, 0.1, 0.9);
    double[] ev = v.clone();
    for (int i = 0; i < n; i++) {
      ev[i] = 0.9 * v[i] + g[i];
      ep[i] -= 0.1 * ev[i];
    }
    near(ev, be.download(V), 1e-6, "momentum velocity");
    near(ep, be.download(P), 1e-6, "momentum param");

    double[] m = rnd(n), s = new double[n];
    for (int i = 0; i < n; i++) {
      s[i] = Math.abs(v[i]);
    }
    DeviceArray M = dev(m, n), S = dev(s, n);
    be.upload(P, p);
    be.adamUpdate(P, G, M, S, 0.01, 0.9, 0.999, 1e-8, 3);
    double c1 = 1 - Math.pow(0.9, 3), c2 = 1 - Math.pow(0.999, 3);
    double[] em = new double[n], es = new double[n];
    ep = p.clone();
    for (int i = 0; i < n; i++) {
      em[i] = 0.9 * m[i] + 0.1 * g[i];
      es[i] = 0.999 * s[i] + 0.001 * g[i] * g[i];
      ep[i] -= 0.01 * (em[i] / c1) / (Math.sqrt(es[i] / c2) + 1e-8);
    }
    near(em, be.download(M), 1e-6, "adam m");
    near(es, be.download(S), 1e-6, "adam v");
    near(ep, be.download(P), 1e-5, "adam param");
    for (DeviceArray d : new DeviceArray[] {P, G, V, M, S}) {
      d.close();
    }
  }

  /**
   * Multi-tensor tables are cached per list of arrays: the same arrays split into lists differently (here
   * SGD's params [A, B] + grads [C, D], then Adam's [A] [B] [C] [D]) must get their own table, not the
   * cached one of the other layout.
   */
  @Test
  void multiTensorTablesAreKeyedByTheirLists() {
    int n = 5;
    double[] a = rnd(n), b = rnd(n), c = rnd(n), d = new double[n];
    for (int i = 0; i < n; i++) {
      d[i] = Math.abs(rnd(1)[0]);
    }
    DeviceArray A = dev(a, n), B = dev(b, n), C = dev(c, n), D = dev(d, n);
    be.sgdUpdateAll(java.util.List.of(A, B), java.util.List.of(C, D), null, 0.1, 0);
    double[] a1 = be.download(A), b1 = be.download(B);
    DeviceArray A2 = dev(a1, n), B2 = dev(b1, n), C2 = dev(c, n), D2 = dev(d, n);
    be.adamUpdateAll(java.util.List.of(A), java.util.List.of(B), java.util.List.of(C), java.util.List.of(D),
        0.01, 0.9, 0.999, 1e-8, 2);
    be.adamUpdate(A2, B2, C2, D2, 0.01, 0.9, 0.999, 1e-8, 2);
    near(be.download(A2), be.download(A), 1e-6, "adam param through its own table");
    near(be.download(C2), be.download(C), 1e-6, "adam m through its own table");
    near(be.download(D2), be.download(D), 1e-6, "adam v through its own table");
    for (DeviceArray x : new DeviceArray[] {A, B, C, D, A2, B2, C2, D2}) {
      x.close();
    }
  }

  @Test
  void gatherBatchChecksLabelRows() {
    double[] f = rnd(6 * 4);
    DeviceArray F = dev(f, 6, 4), L = dev(new double[] {0, 1, 2, 3, 4, 5}, 6, 1),
        I = dev(new double[] {3, 1, 5}, 3), X = be.allocate(3, 4), Y = be.allocate(3, 1),
        shortLabels = be.allocate(5, 1);
    be.gatherBatch(F, L, I, 0, X, Y);
    double[] ex = new double[12];
    int[] rows = {3, 1, 5};
    for (int k = 0; k < 3; k++) {
      System.arraycopy(f, rows[k] * 4, ex, k * 4, 4);
    }
    near(ex, be.download(X), 1e-7, "gatherBatch features");
    near(new double[] {3, 1, 5}, be.download(Y), 0, "gatherBatch labels");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> be.gatherBatch(F, shortLabels, I, 0, X, Y));
    assertTrue(e.getMessage().contains("[5, 1]") && e.getMessage().contains("[6, 4]"), e.getMessage());
    for (DeviceArray a : new DeviceArray[] {F, L, I, X, Y, shortLabels}) {
      a.close();
    }
  }

  static double[] htilde(double[] h, int b, int n) {
    double[] t = new double[b * (n + 1)];
    for (int k = 0; k < b; k++) {
      System.arraycopy(h, k * n, t, k * (n + 1), n);
      t[k * (n + 1) + n] = 1;
    }
    return t;
  }

  @Test
  void metricUpdates() {
    int b = 6, n = 4, d = n + 1, m = 3;
    double lam = 0.05;
    double[] h = rnd(b * n), g0 = rnd(d * d), nu = new double[b * m], gs0 = rnd(m * d * d);
    for (int i = 0; i < nu.length; i++) {
      nu[i] = R.nextDouble();
    }
    double[] ht = htilde(h, b, n);
    DeviceArray H = dev(h, b, n), G = dev(g0, d, d), NU = dev(nu, b, m), GS = dev(gs0, m, d, d);
    be.sharedMetricUpdate(H, lam, G);
    double[] eg = new double[d * d];
    for (int r = 0; r < d; r++) {
      for (int c = 0; c < d; c++) {
        double s = 0;
        for (int k = 0; k < b; k++) {
          s += ht[k * d + r] * ht[k * d + c];
        }
        eg[r * d + c] = (1 - lam) * g0[r * d + c] + lam / b * s;
      }
    }
    near(eg, be.download(G), 1e-5, "sharedMetricUpdate");

    be.perNeuronMetricUpdate(H, NU, lam, GS);
    double[] egs = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      for (int r = 0; r < d; r++) {
        for (int c = 0; c < d; c++) {
          double s = 0;
          for (int k = 0; k < b; k++) {
            s += nu[k * m + i] * ht[k * d + r] * ht[k * d + c];
          }
          egs[(i * d + r) * d + c] = (1 - lam) * gs0[(i * d + r) * d + c] + lam / b * s;
        }
      }
    }
    near(egs, be.download(GS), 1e-5, "perNeuronMetricUpdate");

    be.addDiagonal(GS, 0.25);
    for (int i = 0; i < m; i++) {
      for (int r = 0; r < d; r++) {
        egs[(i * d + r) * d + r] += 0.25;
      }
    }
    near(egs, be.download(GS), 1e-5, "addDiagonal stack");
    be.addDiagonal(G, -1);
    for (int r = 0; r < d; r++) {
      eg[r * d + r] -= 1;
    }
    near(eg, be.download(G), 1e-5, "addDiagonal matrix");
    assertThrows(IllegalArgumentException.class, () -> be.perNeuronMetricUpdate(H, NU, lam, G));
    for (DeviceArray a : new DeviceArray[] {H, G, NU, GS}) {
      a.close();
    }
  }

  @Test
  void perNeuronMetricUpdateInNeuronChunks() {
    int b = 4, n = 3, d = n + 1, m = 5;
    double lam = 0.2;
    double[] h = rnd(b * n), nu = new double[b * m], g0 = rnd(m * d * d);
    for (int i = 0; i < nu.length; i++) {
      nu[i] = R.nextDouble();
    }
    double[] ht = htilde(h, b, n);
    long saved = CudaRngd.maxGramWorkspaceFloats;
    DeviceArray H = dev(h, b, n), NU = dev(nu, b, m), G = dev(g0, m, d, d);
    try {
      CudaRngd.maxGramWorkspaceFloats = 2L * b * d;  // chunks of 2, 2, 1 neurons
      be.perNeuronMetricUpdate(H, NU, lam, G);
    } finally {
      CudaRngd.maxGramWorkspaceFloats = saved;
    }
    double[] e = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      for (int r = 0; r < d; r++) {
        for (int c = 0; c < d; c++) {
          double s = 0;
          for (int k = 0; k < b; k++) {
            s += nu[k * m + i] * ht[k * d + r] * ht[k * d + c];
          }
          e[(i * d + r) * d + c] = (1 - lam) * g0[(i * d + r) * d + c] + lam / b * s;
        }
      }
    }
    near(e, be.download(G), 1e-5, "chunked perNeuronMetricUpdate");
    H.close();
    NU.close();
    G.close();
  }

  /** Symmetric positive-definite d x d: M M^T / d + I, from this class's generator. */
  static double[] spd(int d) {
    return CudaRefreshInversesTest.spd(R, d);
  }

  /** inverse of sym(G) + (epsRel tr G + epsAbs) I by Gauss-Jordan in double. */
  static double[] refInverse(double[] g, int off, int d, double epsRel, double epsAbs) {
    double tr = 0;
    for (int i = 0; i < d; i++) {
      tr += g[off + i * d + i];
    }
    double[][] a = new double[d][2 * d];
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        a[i][j] = 0.5 * (g[off + i * d + j] + g[off + j * d + i]) + (i == j ? epsRel * tr + epsAbs : 0);
      }
      a[i][d + i] = 1;
    }
    for (int c = 0; c < d; c++) {
      int piv = c;
      for (int r = c + 1; r < d; r++) {
        if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) {
          piv = r;
        }
      }
      double[] t = a[c];
      a[c] = a[piv];
      a[piv] = t;
      double p = a[c][c];
      for (int j = 0; j < 2 * d; j++) {
        a[c][j] /= p;
      }
      for (int r = 0; r < d; r++) {
        if (r != c) {
          double f = a[r][c];
          for (int j = 0; j < 2 * d; j++) {
            a[r][j] -= f * a[c][j];
          }
        }
      }
    }
    double[] inv = new double[d * d];
    for (int i = 0; i < d; i++) {
      System.arraycopy(a[i], d, inv, i * d, d);
    }
    return inv;
  }

  @Test
  void batchedInverseKeepsFailedSlices() {
    int m = 4, d = 6;
    double[] g = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      System.arraycopy(spd(d), 0, g, i * d * d, d * d);
    }
    g[2 * d * d] += 0.01;  // slightly asymmetric: symmetrised before factorisation
    for (int r = 0; r < d; r++) {  // slice 1: negative definite, Cholesky fails at pivot 1
      g[(d + r) * d + r] = -5;
    }
    double[] sentinel = new double[m * d * d];
    java.util.Arrays.fill(sentinel, 42);
    DeviceArray G = dev(g, m, d, d), GI = dev(sentinel, m, d, d);
    double[] epsRel = {1e-4, 1e-4, 1e-3, 0};
    int[] info = be.batchedInverse(G, epsRel, 1e-6, GI);
    assertEquals(0, info[0]);
    assertTrue(info[1] > 0, "failing slice reports its pivot: " + java.util.Arrays.toString(info));
    assertEquals(0, info[2]);
    assertEquals(0, info[3]);
    double[] got = be.download(GI);
    for (int i = 0; i < m; i++) {
      double[] slice = java.util.Arrays.copyOfRange(got, i * d * d, (i + 1) * d * d);
      if (i == 1) {
        double[] untouched = new double[d * d];
        java.util.Arrays.fill(untouched, 42);
        near(untouched, slice, 0, "failed slice untouched");
      } else {
        near(refInverse(g, i * d * d, d, epsRel[i], 1e-6), slice, 2e-4, "inverse slice " + i);
      }
    }
    double[] one = spd(d);
    DeviceArray S = dev(one, d, d), SI = be.allocate(d, d);
    int[] info1 = be.batchedInverse(S, new double[] {1e-4}, 0, SI);
    assertArrayEquals(new int[] {0}, info1);
    near(refInverse(one, 0, d, 1e-4, 0), be.download(SI), 2e-4, "single inverse");
    for (DeviceArray a : new DeviceArray[] {G, GI, S, SI}) {
      a.close();
    }
  }

  @Test
  void perNeuronPrecondition() {
    int d = 5, m = 4;
    double[] ginv = rnd(m * d * d), grad = rnd(d * m), out = rnd(d * m);
    DeviceArray GI = dev(ginv, m, d, d), GR = dev(grad, d, m), O = dev(out, d, m);
    be.perNeuronPrecondition(GI, GR, -0.5, 2.0, O);
    double[] eo = new double[d * m];
    for (int i = 0; i < m; i++) {
      for (int r = 0; r < d; r++) {
        double s = 0;
        for (int p = 0; p < d; p++) {
          s += ginv[(i * d + r) * d + p] * grad[p * m + i];
        }
        eo[r * m + i] = -0.5 * s + 2.0 * out[r * m + i];
      }
    }
    near(eo, be.download(O), 1e-5, "perNeuronPrecondition");
    for (DeviceArray a : new DeviceArray[] {GI, GR, O}) {
      a.close();
    }
  }
}
