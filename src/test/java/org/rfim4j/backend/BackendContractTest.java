package org.rfim4j.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.function.Executable;

/**
 * The contract every {@link Backend} must satisfy, checked against straightforward float64 references
 * written here (triple loops, textbook formulas) on seeded random data with awkward sizes.
 *
 * <p>A backend's test subclasses this and implements {@link #createBackend()}; a lower-precision backend
 * also overrides {@link #tolerance()}. References are computed from the values the backend actually
 * holds (the inputs are downloaded after upload), so a float32 backend is judged only on its arithmetic.
 */
public abstract class BackendContractTest {

  /** A fresh backend for one test; it is closed after the test. */
  protected abstract Backend createBackend();

  /**
   * Relative tolerance of a result against its float64 reference: |actual - expected| must not exceed
   * {@code tolerance() * (scale + |expected|)}, where scale is the magnitude of the terms that were summed
   * (1 for element-wise results).
   */
  protected double tolerance() {
    return 1e-12;
  }

  /** Tolerance of analytic derivatives against central finite differences computed in float64. */
  protected double finiteDifferenceTolerance() {
    return Math.max(1e-6, tolerance());
  }

  protected Backend backend;
  private int liveAtStart;
  private final List<DeviceArray> owned = new ArrayList<>();

  private String testName = "";

  /**
   * The name of the running test method: a lower-precision backend may state its {@link #tolerance()} per
   * operation (each test exercises one operation) from its own rounding analysis.
   */
  protected final String currentTest() {
    return testName;
  }

  @BeforeEach
  void createTheBackend(TestInfo info) {
    testName = info.getTestMethod().map(java.lang.reflect.Method::getName).orElse("");
    backend = createBackend();
    liveAtStart = backend.liveArrays();
  }

  @AfterEach
  void closeTheBackend() {
    try {
      for (DeviceArray a : owned) {
        a.close();
      }
      owned.clear();
      assertEquals(liveAtStart, backend.liveArrays(), "liveArrays after closing every test array");
    } finally {
      backend.close();
    }
  }

  // =============================================================== helpers

  protected DeviceArray alloc(int... shape) {
    DeviceArray a = backend.allocate(shape);
    owned.add(a);
    return a;
  }

  protected DeviceArray up(double[] data, int... shape) {
    DeviceArray a = alloc(shape);
    backend.upload(a, data);
    return a;
  }

  protected double[] dl(DeviceArray a) {
    return backend.download(a);
  }

  protected static double[] rand(Random r, int n) {
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = 2 * r.nextDouble() - 1;
    }
    return x;
  }

  protected static double[] randPositive(Random r, int n) {
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = 0.05 + r.nextDouble();
    }
    return x;
  }

  /** A random symmetric positive definite d x d matrix (well conditioned). */
  protected static double[] randSpd(Random r, int d) {
    double[] a = rand(r, d * d);
    double[] g = new double[d * d];
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        double s = 0;
        for (int p = 0; p < d; p++) {
          s += a[i * d + p] * a[j * d + p];
        }
        g[i * d + j] = s / d + (i == j ? 0.5 : 0);
      }
    }
    return g;
  }

  protected void assertClose(String what, double[] expected, double[] actual, double scale) {
    assertEquals(expected.length, actual.length, what + ": length");
    double tol = tolerance();
    for (int i = 0; i < expected.length; i++) {
      double e = expected[i];
      double a = actual[i];
      if (!(Math.abs(a - e) <= tol * (scale + Math.abs(e)))) {
        fail(what + ": element " + i + " expected " + e + " but was " + a + " (|diff| "
            + Math.abs(a - e) + ", tolerance " + tol + " relative)");
      }
    }
  }

  protected void assertClose(String what, double[] expected, double[] actual) {
    assertClose(what, expected, actual, 1.0);
  }

  protected void assertCloseFd(String what, double[] expected, double[] actual) {
    double tol = finiteDifferenceTolerance();
    for (int i = 0; i < expected.length; i++) {
      if (!(Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])))) {
        fail(what + ": element " + i + " finite difference " + expected[i] + " but analytic " + actual[i]);
      }
    }
  }

  /** Asserts an IllegalArgumentException whose message names every given fragment. */
  protected static void assertRejects(Executable call, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    String msg = String.valueOf(e.getMessage());
    for (String f : fragments) {
      assertTrue(msg.contains(f), "message '" + msg + "' should mention '" + f + "'");
    }
  }

  private static final Activation[] ACTIVATIONS = {
    Activation.IDENTITY, Activation.TANH, Activation.SIGMOID, Activation.RELU, Activation.prelu(0.2),
    Activation.elu(0.7)
  };

  /** Reference row-major C = alpha op(A) op(B) + beta C by a plain triple loop. */
  static double[] gemmRef(boolean ta, boolean tb, int m, int n, int k, double alpha, double[] a,
      double[] b, double beta, double[] c) {
    double[] out = c.clone();
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int p = 0; p < k; p++) {
          double av = ta ? a[p * m + i] : a[i * k + p];
          double bv = tb ? b[j * k + p] : b[p * n + j];
          s += av * bv;
        }
        out[i * n + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * n + j]);
      }
    }
    return out;
  }

  // =============================================================== memory

  @Test
  void reportsNameAndPrecision() {
    assertTrue(backend.name() != null && !backend.name().isEmpty());
    assertTrue(backend.precisionBits() == 32 || backend.precisionBits() == 64);
  }

  @Test
  void allocateGivesZeroFilledArraysOfTheShape() {
    DeviceArray v = alloc(5);
    DeviceArray m = alloc(7, 13);
    DeviceArray s = alloc(3, 4, 5);
    assertArrayEquals(new int[] {5}, v.shape());
    assertArrayEquals(new int[] {7, 13}, m.shape());
    assertArrayEquals(new int[] {3, 4, 5}, s.shape());
    assertEquals(91, m.size());
    assertEquals(12, s.rows());
    assertEquals(5, s.cols());
    assertArrayEquals(new double[60], dl(s));
    assertArrayEquals(new double[91], dl(m));
    assertRejects(() -> backend.allocate(3, 0), "[3, 0]");
    assertRejects(() -> backend.allocate(1, 2, 3, 4), "[1, 2, 3, 4]");
  }

  @Test
  void uploadDownloadDoubleAndFloat() {
    Random r = new Random(1);
    double[] x = rand(r, 7 * 13);
    DeviceArray a = up(x, 7, 13);
    double[] back = dl(a);
    if (backend.precisionBits() == 64) {
      assertArrayEquals(x, back, 0.0);
    } else {
      for (int i = 0; i < x.length; i++) {
        assertEquals((float) x[i], (float) back[i], 0.0f);
      }
    }
    float[] f = new float[7 * 13];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) (r.nextGaussian() * 100);
    }
    backend.upload(a, f);
    double[] fb = dl(a);
    for (int i = 0; i < f.length; i++) {
      assertEquals(f[i], fb[i], 0.0, "float upload is exact");
    }
    assertRejects(() -> backend.upload(a, new double[90]), "src", "90", "[7, 13]");
    assertRejects(() -> backend.upload(a, new float[92]), "src", "92", "[7, 13]");
  }

  @Test
  void copyAndFill() {
    Random r = new Random(2);
    double[] x = rand(r, 33);
    DeviceArray a = up(x, 3, 11);
    DeviceArray b = alloc(33);
    backend.copy(a, b);
    assertArrayEquals(dl(a), dl(b), 0.0);
    backend.fill(b, -2.5);
    double[] e = new double[33];
    Arrays.fill(e, -2.5);
    assertArrayEquals(e, dl(b), 0.0);
    assertArrayEquals(x, dl(a), 1e-6, "source unchanged");
    DeviceArray c = alloc(34);
    assertRejects(() -> backend.copy(a, c), "dst", "[34]", "[3, 11]");
  }

  @Test
  void rowViewsShareStorage() {
    Random r = new Random(3);
    double[] x = rand(r, 9 * 5);
    DeviceArray a = up(x, 9, 5);
    double[] base = dl(a);
    DeviceArray v = backend.rows(a, 2, 6);
    assertArrayEquals(new int[] {4, 5}, v.shape());
    assertArrayEquals(Arrays.copyOfRange(base, 10, 30), dl(v), 0.0);
    backend.fill(v, 7);
    double[] after = dl(a);
    for (int i = 0; i < 45; i++) {
      assertEquals(i >= 10 && i < 30 ? 7.0 : base[i], after[i], 0.0);
    }
    DeviceArray vv = backend.rows(v, 1, 3);
    backend.fill(vv, -1);
    after = dl(a);
    for (int i = 0; i < 45; i++) {
      double e = i >= 15 && i < 25 ? -1.0 : i >= 10 && i < 30 ? 7.0 : base[i];
      assertEquals(e, after[i], 0.0);
    }
    DeviceArray stack = up(rand(r, 4 * 3 * 2), 4, 3, 2);
    DeviceArray sv = backend.rows(stack, 1, 3);
    assertArrayEquals(new int[] {2, 3, 2}, sv.shape());
    assertArrayEquals(Arrays.copyOfRange(dl(stack), 6, 18), dl(sv), 0.0);
    backend.synchronize();
    v.close(); // closing a view does nothing
    assertArrayEquals(after, dl(a), 0.0);
    assertRejects(() -> backend.rows(a, 5, 10), "[9, 5]");
    assertRejects(() -> backend.rows(a, 3, 3), "[9, 5]");
  }

  @Test
  void liveArraysReturnToStartAfterClosing() {
    int start = backend.liveArrays();
    DeviceArray a = backend.allocate(4, 4);
    DeviceArray b = backend.allocate(3);
    DeviceArray c = backend.allocate(2, 3, 4);
    assertEquals(start + 3, backend.liveArrays());
    DeviceArray v = backend.rows(a, 1, 3);
    assertEquals(start + 3, backend.liveArrays(), "views are not counted");
    v.close();
    assertEquals(start + 3, backend.liveArrays());
    a.close();
    a.close(); // idempotent
    assertEquals(start + 2, backend.liveArrays());
    b.close();
    c.close();
    assertEquals(start, backend.liveArrays());
  }

  // =============================================================== dense algebra

  @Test
  void gemmAllTransposeCombinations() {
    Random r = new Random(4);
    int m = 7;
    int n = 13;
    int k = 9;
    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        DeviceArray a = up(rand(r, m * k), ta ? k : m, ta ? m : k);
        DeviceArray b = up(rand(r, k * n), tb ? n : k, tb ? k : n);
        DeviceArray c = up(rand(r, m * n), m, n);
        double[] expected = gemmRef(ta, tb, m, n, k, 1.3, dl(a), dl(b), -0.7, dl(c));
        backend.gemm(ta, tb, 1.3, a, b, -0.7, c);
        assertClose("gemm ta=" + ta + " tb=" + tb, expected, dl(c), k);
      }
    }
  }

  @Test
  void gemmBetaZeroIgnoresPriorContents() {
    Random r = new Random(5);
    DeviceArray a = up(rand(r, 5 * 6), 5, 6);
    DeviceArray b = up(rand(r, 6 * 3), 6, 3);
    double[] nan = new double[15];
    Arrays.fill(nan, Double.NaN);
    DeviceArray c = up(nan, 5, 3);
    double[] expected = gemmRef(false, false, 5, 3, 6, 0.5, dl(a), dl(b), 0, new double[15]);
    backend.gemm(false, false, 0.5, a, b, 0.0, c);
    assertClose("gemm beta=0", expected, dl(c), 6);
  }

  /**
   * A mini-batch of images as the left operand (most columns zero in every row; the CPU multiplies only
   * the others): both transposes of B and of A, beta 0 and not, a view at an offset, an all-zero batch
   * and one NaN, against the reference product.
   */
  @Test
  void gemmWithAnImageLikeBatch() {
    Random r = new Random(24);
    int m = 40;
    int k = 300;
    int n = 24;
    double[] x = rand(r, (m + 2) * k);
    for (int i = 0; i < x.length; i++) {
      if ((i % k) % 3 != 0 || r.nextDouble() < 0.7) {
        x[i] = 0;
      }
    }
    for (boolean tb : new boolean[] {false, true}) {
      for (double beta : new double[] {0.0, -0.5}) {
        DeviceArray xa = backend.rows(up(x, m + 2, k), 2, m + 2);
        DeviceArray b = up(rand(r, k * n), tb ? n : k, tb ? k : n);
        DeviceArray c = up(rand(r, m * n), m, n);
        double[] expected = gemmRef(false, tb, m, n, k, 0.7, dl(xa), dl(b), beta, dl(c));
        backend.gemm(false, tb, 0.7, xa, b, beta, c);
        assertClose("image-like gemm tb=" + tb + " beta=" + beta, expected, dl(c), k);
        // the transposed use (the weight gradient X^T D)
        DeviceArray d = up(rand(r, m * n), m, n);
        DeviceArray g = up(rand(r, k * n), k, n);
        double[] eg = gemmRef(true, false, k, n, m, 1.0, dl(xa), dl(d), beta, dl(g));
        backend.gemm(true, false, 1.0, xa, d, beta, g);
        assertClose("image-like gemm X^T D beta=" + beta, eg, dl(g), m);
      }
    }
    // an all-zero batch: C = beta C exactly
    DeviceArray zero = alloc(m, k);
    DeviceArray b = up(rand(r, k * n), k, n);
    double[] c0 = rand(r, m * n);
    DeviceArray c = up(c0, m, n);
    backend.gemm(false, false, 1.0, zero, b, 0.25, c);
    double[] ez = new double[c0.length];
    for (int i = 0; i < ez.length; i++) {
      ez[i] = 0.25 * c0[i];
    }
    assertClose("all-zero batch", ez, dl(c), 1);
    // a NaN in an otherwise zero column reaches every output of its row
    double[] xn = new double[m * k];
    xn[5 * k + 7] = Double.NaN;
    DeviceArray an = up(xn, m, k);
    DeviceArray cn = alloc(m, n);
    backend.gemm(false, false, 1.0, an, b, 0.0, cn);
    double[] cv = dl(cn);
    for (int j = 0; j < n; j++) {
      assertTrue(Double.isNaN(cv[5 * n + j]), "NaN in row 5 must propagate, column " + j);
      assertEquals(0.0, cv[4 * n + j], 0.0);
    }
  }

  @Test
  void gemmOnViewsWithOffsets() {
    Random r = new Random(6);
    DeviceArray bigA = up(rand(r, 20 * 11), 20, 11);
    DeviceArray bigB = up(rand(r, 15 * 6), 15, 6);
    DeviceArray bigC = up(rand(r, 12 * 6), 12, 6);
    DeviceArray a = backend.rows(bigA, 3, 10); // 7 x 11
    DeviceArray b = backend.rows(bigB, 4, 15); // 11 x 6
    DeviceArray c = backend.rows(bigC, 5, 12); // 7 x 6
    double[] cBefore = dl(bigC);
    double[] expected = gemmRef(false, false, 7, 6, 11, -1.1, dl(a), dl(b), 0.3, dl(c));
    backend.gemm(false, false, -1.1, a, b, 0.3, c);
    assertClose("gemm on views", expected, dl(c), 11);
    double[] cAfter = dl(bigC);
    assertArrayEquals(Arrays.copyOfRange(cBefore, 0, 30), Arrays.copyOfRange(cAfter, 0, 30), 0.0,
        "rows outside the view untouched");
    // transposed operands on views: a is an 11 x 11 view, b a 6 x 11 view, c an 11 x 6 view
    DeviceArray at = backend.rows(bigA, 9, 20);
    DeviceArray bt = backend.rows(bigA, 0, 6);
    DeviceArray ct = backend.rows(bigC, 1, 12);
    double[] e2 = gemmRef(true, true, 11, 6, 11, 0.9, dl(at), dl(bt), 0, dl(ct));
    backend.gemm(true, true, 0.9, at, bt, 0, ct);
    assertClose("gemm transposed views", e2, dl(ct), 11);
  }

  @Test
  void gemmPaperShapes() {
    Random r = new Random(7);
    // forward 50x785 * 785x80, hidden 50x81 * 81x80, gradient Ht^T Delta (785x50 * 50x80),
    // back-propagation Delta W^T (50x80 * 80x784)
    int[][] shapes = {{50, 80, 784, 0, 0}, {50, 80, 81, 0, 0}, {785, 80, 50, 1, 0}, {50, 784, 80, 0, 1}};
    for (int[] s : shapes) {
      int m = s[0];
      int n = s[1];
      int k = s[2];
      boolean ta = s[3] == 1;
      boolean tb = s[4] == 1;
      DeviceArray a = up(rand(r, m * k), ta ? k : m, ta ? m : k);
      DeviceArray b = up(rand(r, k * n), tb ? n : k, tb ? k : n);
      DeviceArray c = up(rand(r, m * n), m, n);
      double[] expected = gemmRef(ta, tb, m, n, k, 1.0, dl(a), dl(b), 1.0, dl(c));
      backend.gemm(ta, tb, 1.0, a, b, 1.0, c);
      assertClose("gemm " + Arrays.toString(s), expected, dl(c), k);
    }
  }

  @Test
  void gemmRejectsBadShapes() {
    DeviceArray a = alloc(3, 4);
    DeviceArray b = alloc(5, 2);
    DeviceArray c = alloc(3, 2);
    assertRejects(() -> backend.gemm(false, false, 1, a, b, 0, c), "[3, 4]", "[5, 2]");
    DeviceArray b2 = alloc(4, 2);
    DeviceArray c2 = alloc(2, 3);
    assertRejects(() -> backend.gemm(false, false, 1, a, b2, 0, c2), "c", "[2, 3]", "3 x 2");
  }

  @Test
  void axpyScaleDot() {
    Random r = new Random(8);
    DeviceArray x = up(rand(r, 7 * 13), 7, 13);
    DeviceArray y = up(rand(r, 7 * 13), 91);
    double[] xv = dl(x);
    double[] yv = dl(y);
    double[] e = new double[91];
    for (int i = 0; i < 91; i++) {
      e[i] = -0.37 * xv[i] + yv[i];
    }
    backend.axpy(-0.37, x, y);
    assertClose("axpy", e, dl(y));
    for (int i = 0; i < 91; i++) {
      e[i] *= 1.9;
    }
    backend.scale(1.9, y);
    assertClose("scale", e, dl(y));
    double s = 0;
    double sa = 0;
    yv = dl(y);
    for (int i = 0; i < 91; i++) {
      s += xv[i] * yv[i];
      sa += Math.abs(xv[i] * yv[i]);
    }
    assertClose("dot", new double[] {s}, new double[] {backend.dot(x, y)}, sa);
    DeviceArray z = alloc(90);
    assertRejects(() -> backend.axpy(1, x, z), "y", "[90]", "[7, 13]");
    assertRejects(() -> backend.dot(x, z), "y", "[90]", "[7, 13]");
  }

  @Test
  void columnSums() {
    Random r = new Random(9);
    DeviceArray a = up(rand(r, 11 * 13), 11, 13);
    DeviceArray out = up(rand(r, 13), 13);
    double[] av = dl(a);
    double[] ov = dl(out);
    double[] e = new double[13];
    for (int j = 0; j < 13; j++) {
      double s = 0;
      for (int i = 0; i < 11; i++) {
        s += av[i * 13 + j];
      }
      e[j] = 0.6 * s - 1.5 * ov[j];
    }
    backend.columnSums(a, 0.6, -1.5, out);
    assertClose("columnSums", e, dl(out), 11);
    double[] nan = new double[13];
    Arrays.fill(nan, Double.NaN);
    backend.upload(out, nan);
    backend.columnSums(a, 1.0, 0.0, out);
    for (int j = 0; j < 13; j++) {
      double s = 0;
      for (int i = 0; i < 11; i++) {
        s += av[i * 13 + j];
      }
      e[j] = s;
    }
    assertClose("columnSums beta=0", e, dl(out), 11);
    DeviceArray bad = alloc(12);
    assertRejects(() -> backend.columnSums(a, 1, 0, bad), "out", "[12]", "[11, 13]");
  }

  @Test
  void gatherRows() {
    Random r = new Random(10);
    DeviceArray src = up(rand(r, 17 * 5), 17, 5);
    double[] idx = {3, 16, 0, 0, 9, 4, 12, 1};
    DeviceArray ind = up(idx, 8);
    DeviceArray dst = alloc(5, 5);
    backend.gatherRows(src, ind, 2, dst);
    double[] sv = dl(src);
    double[] e = new double[25];
    for (int k = 0; k < 5; k++) {
      System.arraycopy(sv, (int) idx[2 + k] * 5, e, k * 5, 5);
    }
    assertArrayEquals(e, dl(dst), 0.0);
    // A mini-batch-sized gather (50 x 400: large enough for the CPU to split it over its threads)
    {
      int rows = 300;
      int cols = 400;
      DeviceArray big = up(rand(r, rows * cols), rows, cols);
      double[] bi = new double[70];
      for (int k = 0; k < bi.length; k++) {
        bi[k] = r.nextInt(rows);
      }
      DeviceArray bind = up(bi, bi.length);
      DeviceArray bdst = alloc(50, cols);
      backend.gatherRows(big, bind, 13, bdst);
      double[] bv = dl(big);
      double[] be = new double[50 * cols];
      for (int k = 0; k < 50; k++) {
        System.arraycopy(bv, (int) bi[13 + k] * cols, be, k * cols, cols);
      }
      assertArrayEquals(be, dl(bdst), 0.0);
    }
    assertRejects(() -> backend.gatherRows(src, ind, 4, dst), "indices", "[8]");
    DeviceArray wrong = alloc(2, 4);
    assertRejects(() -> backend.gatherRows(src, ind, 0, wrong), "dst", "[2, 4]", "[17, 5]");
  }

  // =============================================================== layers

  @Test
  void biasActivationForwardEveryKind() {
    Random r = new Random(11);
    for (Activation act : ACTIVATIONS) {
      double[] z0 = rand(r, 7 * 13);
      for (int i = 0; i < z0.length; i++) {
        z0[i] *= 3;
      }
      DeviceArray z = up(z0, 7, 13);
      DeviceArray bias = up(rand(r, 13), 13);
      DeviceArray h = alloc(7, 13);
      double[] zv = dl(z);
      double[] bv = dl(bias);
      double[] ea = new double[91];
      double[] eh = new double[91];
      for (int i = 0; i < 7; i++) {
        for (int j = 0; j < 13; j++) {
          ea[i * 13 + j] = zv[i * 13 + j] + bv[j];
        }
      }
      backend.biasActivationForward(z, bias, act, h);
      double[] av = dl(z);
      assertClose(act + " pre-activation", ea, av);
      for (int i = 0; i < 91; i++) {
        eh[i] = ActivationMath.f(act, av[i]);
      }
      assertClose(act + " h", eh, dl(h));
      // h == null only adds the bias
      backend.biasActivationForward(z, bias, act, null);
      for (int i = 0; i < 7; i++) {
        for (int j = 0; j < 13; j++) {
          ea[i * 13 + j] = av[i * 13 + j] + bv[j];
        }
      }
      assertClose(act + " bias only", ea, dl(z));
    }
    DeviceArray z = alloc(3, 4);
    DeviceArray b5 = alloc(5);
    assertRejects(() -> backend.biasActivationForward(z, b5, Activation.TANH, null), "bias", "[5]");
  }

  @Test
  void activationBackwardEveryKindAgainstActivationMathAndFiniteDifferences() {
    Random r = new Random(12);
    for (Activation act : ACTIVATIONS) {
      double[] a0 = rand(r, 9 * 6);
      for (int i = 0; i < a0.length; i++) {
        a0[i] *= 3;
        if (Math.abs(a0[i]) < 1e-2) {
          a0[i] = 0.5; // keep away from kinks for the finite-difference check
        }
      }
      DeviceArray a = up(a0, 9, 6);
      DeviceArray dH = up(rand(r, 54), 9, 6);
      DeviceArray dA = alloc(9, 6);
      double[] av = dl(a);
      double[] gv = dl(dH);
      backend.activationBackward(act, a, dH, dA);
      double[] got = dl(dA);
      double[] e = new double[54];
      double[] fd = new double[54];
      double step = 1e-6;
      for (int i = 0; i < 54; i++) {
        e[i] = gv[i] * ActivationMath.df(act, av[i]);
        fd[i] = gv[i] * (ActivationMath.f(act, av[i] + step) - ActivationMath.f(act, av[i] - step))
            / (2 * step);
      }
      assertClose(act + " backward", e, got);
      assertCloseFd(act + " backward vs finite difference", fd, got);
      // dA may alias dH
      backend.activationBackward(act, a, dH, dH);
      assertClose(act + " backward in place", e, dl(dH));
    }
    DeviceArray a = alloc(3, 4);
    DeviceArray d = alloc(4, 3);
    assertRejects(() -> backend.activationBackward(Activation.RELU, a, a, d), "dA", "[4, 3]");
  }

  /** log sum_j exp(z[k][j]) of row k, shifted by the row maximum so large logits stay finite. */
  private static double logSumExp(double[] z, int k, int n) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < n; j++) {
      max = Math.max(max, z[k * n + j]);
    }
    double s = 0;
    for (int j = 0; j < n; j++) {
      s += Math.exp(z[k * n + j] - max);
    }
    return max + Math.log(s);
  }

  private static double[] softmaxRef(double[] z, int b, int n) {
    double[] p = new double[b * n];
    for (int k = 0; k < b; k++) {
      double lse = logSumExp(z, k, n);
      for (int j = 0; j < n; j++) {
        p[k * n + j] = Math.exp(z[k * n + j] - lse);
      }
    }
    return p;
  }

  private static double lossRef(double[] z, double[] y, int b, int n) {
    double loss = 0;
    for (int k = 0; k < b; k++) {
      loss += logSumExp(z, k, n) - z[k * n + (int) y[k]];
    }
    return loss;
  }

  @Test
  void softmaxCrossEntropy() {
    Random r = new Random(13);
    int b = 9;
    int n = 7;
    double[] z0 = rand(r, b * n);
    for (int i = 0; i < z0.length; i++) {
      z0[i] *= 4;
    }
    double[] y = new double[b];
    int wrong = 0;
    for (int k = 0; k < b; k++) {
      y[k] = r.nextInt(n);
    }
    // make rows 0..2 correct for certain
    for (int k = 0; k < 3; k++) {
      z0[k * n + (int) y[k]] = 10;
    }
    DeviceArray z = up(z0, b, n);
    double[] zv = dl(z);
    for (int k = 0; k < b; k++) {
      int arg = 0;
      for (int j = 1; j < n; j++) {
        if (zv[k * n + j] > zv[k * n + arg]) {
          arg = j;
        }
      }
      if (arg != (int) y[k]) {
        wrong++;
      }
    }
    assertTrue(wrong > 0, "the test data should contain misclassified rows");
    DeviceArray labels = up(y, b);
    DeviceArray p = alloc(b, n);
    DeviceArray g = alloc(b, n);
    DeviceArray stats = up(new double[] {1.5, 2}, 2);
    double scale = 1.0 / b;
    backend.softmaxCrossEntropy(z, labels, p, g, scale, stats);
    double[] ep = softmaxRef(zv, b, n);
    assertClose("probabilities", ep, dl(p));
    double[] eg = new double[b * n];
    for (int k = 0; k < b; k++) {
      for (int j = 0; j < n; j++) {
        eg[k * n + j] = scale * (ep[k * n + j] - (j == (int) y[k] ? 1 : 0));
      }
    }
    assertClose("gradient", eg, dl(g));
    double loss = lossRef(zv, y, b, n);
    double[] st = dl(stats);
    assertClose("loss sum", new double[] {1.5 + loss}, new double[] {st[0]}, b);
    assertEquals(2 + wrong, st[1], 0.0, "error count");
    // again without a gradient: stats accumulate, dLogits untouched
    backend.softmaxCrossEntropy(z, labels, p, null, scale, stats);
    st = dl(stats);
    assertClose("loss sum twice", new double[] {1.5 + 2 * loss}, new double[] {st[0]}, b);
    assertEquals(2 + 2 * wrong, st[1], 0.0);
    assertClose("gradient untouched", eg, dl(g));
    DeviceArray badLabels = alloc(b + 1);
    assertRejects(() -> backend.softmaxCrossEntropy(z, badLabels, p, g, 1, stats), "labels",
        "[" + (b + 1) + "]");
    DeviceArray badStats = alloc(3);
    assertRejects(() -> backend.softmaxCrossEntropy(z, labels, p, g, 1, badStats), "stats", "[3]");
  }

  @Test
  void softmaxCrossEntropyWithLargeLogits() {
    double[] z0 = {1000, 999, -1000, 5e3, -5e3, 4990, -20000, -20001, -20000.5};
    double[] y = {1, 0, 2};
    DeviceArray z = up(z0, 3, 3);
    DeviceArray labels = up(y, 3);
    DeviceArray p = alloc(3, 3);
    DeviceArray g = alloc(3, 3);
    DeviceArray stats = alloc(2);
    backend.softmaxCrossEntropy(z, labels, p, g, 1.0, stats);
    double[] zv = dl(z);
    double[] pv = dl(p);
    for (double v : pv) {
      assertTrue(Double.isFinite(v), "finite probabilities");
    }
    assertClose("large-logit probabilities", softmaxRef(zv, 3, 3), pv);
    double[] st = dl(stats);
    assertTrue(Double.isFinite(st[0]));
    assertClose("large-logit loss", new double[] {lossRef(zv, y, 3, 3)}, new double[] {st[0]}, 1);
    assertEquals(2.0, st[1], 0.0, "rows 0 and 2 are misclassified");
  }

  /** Reference training-mode batch norm: returns y; fills mean and invStd when not null. */
  private static double[] bnForwardRef(double[] x, int b, int n, double[] gamma, double[] beta, double eps,
      double[] mean, double[] invStd, double[] var) {
    double[] y = new double[b * n];
    for (int j = 0; j < n; j++) {
      double mu = 0;
      for (int k = 0; k < b; k++) {
        mu += x[k * n + j];
      }
      mu /= b;
      double v = 0;
      for (int k = 0; k < b; k++) {
        v += (x[k * n + j] - mu) * (x[k * n + j] - mu);
      }
      v /= b;
      double is = 1 / Math.sqrt(v + eps);
      if (mean != null) {
        mean[j] = mu;
        invStd[j] = is;
        var[j] = v;
      }
      for (int k = 0; k < b; k++) {
        y[k * n + j] = gamma[j] * (x[k * n + j] - mu) * is + beta[j];
      }
    }
    return y;
  }

  @Test
  void batchNormForwardTrainingAndInference() {
    Random r = new Random(14);
    int b = 11;
    int n = 6;
    double eps = 1e-3;
    double mom = 0.9;
    DeviceArray x = up(rand(r, b * n), b, n);
    DeviceArray gamma = up(randPositive(r, n), n);
    DeviceArray beta = up(rand(r, n), n);
    DeviceArray rm = up(rand(r, n), n);
    DeviceArray rv = up(randPositive(r, n), n);
    DeviceArray mean = alloc(n);
    DeviceArray invStd = alloc(n);
    DeviceArray y = alloc(b, n);
    double[] xv = dl(x);
    double[] gv = dl(gamma);
    double[] bv = dl(beta);
    double[] rmv = dl(rm);
    double[] rvv = dl(rv);
    double[] em = new double[n];
    double[] ei = new double[n];
    double[] var = new double[n];
    double[] ey = bnForwardRef(xv, b, n, gv, bv, eps, em, ei, var);
    backend.batchNormForward(x, gamma, beta, rm, rv, mom, eps, true, mean, invStd, y);
    assertClose("bn y", ey, dl(y));
    assertClose("bn mean", em, dl(mean));
    assertClose("bn invStd", ei, dl(invStd));
    double[] erm = new double[n];
    double[] erv = new double[n];
    for (int j = 0; j < n; j++) {
      erm[j] = mom * rmv[j] + (1 - mom) * em[j];
      erv[j] = mom * rvv[j] + (1 - mom) * var[j] * b / (b - 1);
    }
    assertClose("bn running mean", erm, dl(rm));
    assertClose("bn running var (unbiased)", erv, dl(rv));
    // inference: running statistics, no update
    backend.batchNormForward(x, gamma, beta, rm, rv, mom, eps, false, mean, invStd, y);
    double[] yi = new double[b * n];
    for (int k = 0; k < b; k++) {
      for (int j = 0; j < n; j++) {
        yi[k * n + j] = gv[j] * (xv[k * n + j] - erm[j]) / Math.sqrt(erv[j] + eps) + bv[j];
      }
    }
    assertClose("bn inference y", yi, dl(y));
    assertClose("running mean unchanged in inference", erm, dl(rm));
    assertClose("running var unchanged in inference", erv, dl(rv));
    DeviceArray bad = alloc(n + 1);
    assertRejects(() -> backend.batchNormForward(x, bad, beta, rm, rv, mom, eps, true, mean, invStd, y),
        "gamma", "[" + (n + 1) + "]");
  }

  @Test
  void batchNormBackwardAgainstFiniteDifferences() {
    Random r = new Random(15);
    int b = 7;
    int n = 5;
    double eps = 1e-3;
    DeviceArray x = up(rand(r, b * n), b, n);
    DeviceArray gamma = up(randPositive(r, n), n);
    DeviceArray beta = up(rand(r, n), n);
    DeviceArray rm = alloc(n);
    DeviceArray rv = alloc(n);
    DeviceArray mean = alloc(n);
    DeviceArray invStd = alloc(n);
    DeviceArray y = alloc(b, n);
    DeviceArray dY = up(rand(r, b * n), b, n);
    DeviceArray dX = alloc(b, n);
    DeviceArray dG = alloc(n);
    DeviceArray dB = up(rand(r, n), n); // overwritten, not accumulated
    backend.batchNormForward(x, gamma, beta, rm, rv, 0.9, eps, true, mean, invStd, y);
    backend.batchNormBackward(x, dY, gamma, mean, invStd, dX, dG, dB);
    double[] xv = dl(x);
    double[] gv = dl(gamma);
    double[] bv = dl(beta);
    double[] rv2 = dl(dY);
    // loss L = sum R .* y(x, gamma, beta)
    java.util.function.Function<double[][], Double> loss = args -> {
      double[] yy = bnForwardRef(args[0], b, n, args[1], args[2], eps, null, null, null);
      double s = 0;
      for (int i = 0; i < yy.length; i++) {
        s += rv2[i] * yy[i];
      }
      return s;
    };
    double h = 1e-6;
    double[] fdx = new double[b * n];
    for (int i = 0; i < b * n; i++) {
      double[] xp = xv.clone();
      double[] xm = xv.clone();
      xp[i] += h;
      xm[i] -= h;
      fdx[i] = (loss.apply(new double[][] {xp, gv, bv}) - loss.apply(new double[][] {xm, gv, bv})) / (2 * h);
    }
    double[] fdg = new double[n];
    double[] fdb = new double[n];
    for (int j = 0; j < n; j++) {
      double[] gp = gv.clone();
      double[] gm = gv.clone();
      gp[j] += h;
      gm[j] -= h;
      fdg[j] = (loss.apply(new double[][] {xv, gp, bv}) - loss.apply(new double[][] {xv, gm, bv})) / (2 * h);
      double[] bp = bv.clone();
      double[] bm = bv.clone();
      bp[j] += h;
      bm[j] -= h;
      fdb[j] = (loss.apply(new double[][] {xv, gv, bp}) - loss.apply(new double[][] {xv, gv, bm})) / (2 * h);
    }
    assertCloseFd("bn dX", fdx, dl(dX));
    assertCloseFd("bn dGamma", fdg, dl(dG));
    assertCloseFd("bn dBeta", fdb, dl(dB));
    DeviceArray bad = alloc(b, n + 1);
    assertRejects(() -> backend.batchNormBackward(x, dY, gamma, mean, invStd, bad, dG, dB), "dX",
        "[" + b + ", " + (n + 1) + "]");
  }

  // =============================================================== first-order optimizers

  @Test
  void sgdWithAndWithoutMomentum() {
    Random r = new Random(16);
    DeviceArray p = up(rand(r, 7 * 13), 7, 13);
    DeviceArray g = up(rand(r, 91), 7, 13);
    DeviceArray v = up(rand(r, 91), 7, 13);
    double[] pv = dl(p);
    double[] gv = dl(g);
    double[] vv = dl(v);
    backend.sgdUpdate(p, g, null, 0.3, 0.9);
    double[] e = new double[91];
    for (int i = 0; i < 91; i++) {
      e[i] = pv[i] - 0.3 * gv[i];
    }
    assertClose("sgd", e, dl(p));
    backend.sgdUpdate(p, g, v, 0.3, 0.9);
    double[] ev = new double[91];
    for (int i = 0; i < 91; i++) {
      ev[i] = 0.9 * vv[i] + gv[i];
      e[i] -= 0.3 * ev[i];
    }
    assertClose("sgd momentum velocity", ev, dl(v));
    assertClose("sgd momentum param", e, dl(p));
    DeviceArray bad = alloc(90);
    assertRejects(() -> backend.sgdUpdate(p, bad, null, 1, 0), "grad", "[90]", "[7, 13]");
    assertRejects(() -> backend.sgdUpdate(p, g, bad, 1, 0), "velocity", "[90]", "[7, 13]");
  }

  @Test
  void adamTwoSteps() {
    Random r = new Random(17);
    int n = 23;
    DeviceArray p = up(rand(r, n), n);
    DeviceArray g = alloc(n);
    DeviceArray m = alloc(n);
    DeviceArray v = alloc(n);
    double[] pe = dl(p);
    double[] me = new double[n];
    double[] ve = new double[n];
    double lr = 0.01;
    double b1 = 0.9;
    double b2 = 0.999;
    double eps = 1e-8;
    for (int t = 1; t <= 2; t++) {
      backend.upload(g, rand(r, n));
      double[] gv = dl(g);
      for (int i = 0; i < n; i++) {
        me[i] = b1 * me[i] + (1 - b1) * gv[i];
        ve[i] = b2 * ve[i] + (1 - b2) * gv[i] * gv[i];
        double mh = me[i] / (1 - Math.pow(b1, t));
        double vh = ve[i] / (1 - Math.pow(b2, t));
        pe[i] -= lr * mh / (Math.sqrt(vh) + eps);
      }
      backend.adamUpdate(p, g, m, v, lr, b1, b2, eps, t);
      assertClose("adam m step " + t, me, dl(m));
      assertClose("adam v step " + t, ve, dl(v));
      assertClose("adam param step " + t, pe, dl(p));
    }
    DeviceArray bad = alloc(n + 2);
    assertRejects(() -> backend.adamUpdate(p, g, bad, v, lr, b1, b2, eps, 3), "m", "[" + (n + 2) + "]");
  }

  /**
   * The multi-tensor updates against the element-wise formulas: tensors of several sizes (one above the
   * CPU's 8192-element chunk, so it is split across threads), one parameter a view at an offset (the
   * unaligned loop), and every tensor checked before any is changed.
   */
  @Test
  void multiTensorUpdates() {
    Random r = new Random(23);
    int[] sizes = {20011, 7, 640};
    double lr = 0.01;
    double b1 = 0.9;
    double b2 = 0.999;
    double eps = 1e-8;
    double mom = 0.9;
    java.util.List<DeviceArray> p = new java.util.ArrayList<>();
    java.util.List<DeviceArray> g = new java.util.ArrayList<>();
    java.util.List<DeviceArray> m = new java.util.ArrayList<>();
    java.util.List<DeviceArray> v = new java.util.ArrayList<>();
    java.util.List<DeviceArray> sp = new java.util.ArrayList<>();
    java.util.List<DeviceArray> vel = new java.util.ArrayList<>();
    double[][] pe = new double[sizes.length][];
    double[][] me = new double[sizes.length][];
    double[][] ve = new double[sizes.length][];
    double[][] spe = new double[sizes.length][];
    double[][] vele = new double[sizes.length][];
    for (int k = 0; k < sizes.length; k++) {
      int n = sizes[k];
      double[] p0 = rand(r, n);
      // the second parameter is a view at an offset into a larger array
      p.add(k == 1 ? backend.rows(up(concat(rand(r, 3), p0), n + 3), 3, n + 3) : up(p0, n));
      g.add(alloc(n));
      m.add(alloc(n));
      v.add(alloc(n));
      sp.add(up(p0, n));
      vel.add(alloc(n));
      pe[k] = p0.clone();
      spe[k] = p0.clone();
      me[k] = new double[n];
      ve[k] = new double[n];
      vele[k] = new double[n];
    }
    for (int t = 1; t <= 2; t++) {
      for (int k = 0; k < sizes.length; k++) {
        backend.upload(g.get(k), rand(r, sizes[k]));
        double[] gv = dl(g.get(k));
        for (int i = 0; i < sizes[k]; i++) {
          me[k][i] = b1 * me[k][i] + (1 - b1) * gv[i];
          ve[k][i] = b2 * ve[k][i] + (1 - b2) * gv[i] * gv[i];
          pe[k][i] -= lr * (me[k][i] / (1 - Math.pow(b1, t))) / (Math.sqrt(ve[k][i] / (1 - Math.pow(b2, t))) + eps);
          vele[k][i] = mom * vele[k][i] + gv[i];
          spe[k][i] -= lr * vele[k][i];
        }
      }
      backend.adamUpdateAll(p, g, m, v, lr, b1, b2, eps, t);
      backend.sgdUpdateAll(sp, g, vel, lr, mom);
      for (int k = 0; k < sizes.length; k++) {
        assertClose("adamUpdateAll m, tensor " + k + ", step " + t, me[k], dl(m.get(k)));
        assertClose("adamUpdateAll v, tensor " + k + ", step " + t, ve[k], dl(v.get(k)));
        assertClose("adamUpdateAll param, tensor " + k + ", step " + t, pe[k], dl(p.get(k)));
        assertClose("sgdUpdateAll velocity, tensor " + k + ", step " + t, vele[k], dl(vel.get(k)));
        assertClose("sgdUpdateAll param, tensor " + k + ", step " + t, spe[k], dl(sp.get(k)));
      }
    }
    // A mismatched tensor: an error naming it, and no tensor changed.
    java.util.List<DeviceArray> badM = new java.util.ArrayList<>(m);
    badM.set(2, alloc(sizes[2] + 1));
    double[] before = dl(p.get(0));
    assertThrows(IllegalArgumentException.class,
        () -> backend.adamUpdateAll(p, g, badM, v, lr, b1, b2, eps, 3));
    assertArrayEquals(before, dl(p.get(0)), 0.0, "adamUpdateAll changed a tensor before rejecting another");
  }

  private static double[] concat(double[] a, double[] b) {
    double[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  // =============================================================== RNGD

  @Test
  void nuCoefficientsEveryKind() {
    Random r = new Random(18);
    for (Activation act : ACTIVATIONS) {
      for (double omega : new double[] {1.0, 0.3}) {
        double[] a0 = rand(r, 7 * 13);
        for (int i = 0; i < a0.length; i++) {
          a0[i] *= 4;
        }
        DeviceArray a = up(a0, 7, 13);
        DeviceArray nu = alloc(7, 13);
        backend.nuCoefficients(act, a, omega, nu);
        double[] av = dl(a);
        double[] e = new double[91];
        for (int i = 0; i < 91; i++) {
          e[i] = ActivationMath.nu(act, av[i], omega);
        }
        assertClose("nu " + act + " omega " + omega, e, dl(nu));
      }
    }
    DeviceArray a = alloc(3, 4);
    DeviceArray nu = alloc(3, 5);
    assertRejects(() -> backend.nuCoefficients(Activation.RELU, a, 1, nu), "nu", "[3, 5]");
  }

  /** Reference (1-lam) G + lam/B sum_k w_k ht_k ht_k^T with ht = [h, 1]. */
  private static double[] metricRef(double[] g, double[] h, int b, int n, double[] w, double lambda) {
    int d = n + 1;
    double[] out = new double[d * d];
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        double s = 0;
        for (int k = 0; k < b; k++) {
          double hi = i < n ? h[k * n + i] : 1;
          double hj = j < n ? h[k * n + j] : 1;
          s += w[k] * hi * hj;
        }
        out[i * d + j] = (1 - lambda) * g[i * d + j] + lambda / b * s;
      }
    }
    return out;
  }

  @Test
  void sharedMetricUpdate() {
    Random r = new Random(19);
    int[][] sizes = {{11, 6}, {50, 80}, {3, 1}};
    double[] lambdas = {0.6, 0.005, 1.0};
    for (int t = 0; t < sizes.length; t++) {
      int[] s = sizes[t];
      double lambda = lambdas[t];
      int b = s[0];
      int n = s[1];
      int d = n + 1;
      DeviceArray h = up(rand(r, b * n), b, n);
      DeviceArray g = up(randSpd(r, d), d, d);
      double[] ones = new double[b];
      Arrays.fill(ones, 1);
      double[] e = metricRef(dl(g), dl(h), b, n, ones, lambda);
      backend.sharedMetricUpdate(h, lambda, g);
      assertClose("shared metric " + Arrays.toString(s), e, dl(g), 1);
    }
    // An image-like batch: most columns are zero in every row (the CPU's column-compressed path), the
    // others sparse; as a view at an offset into a larger array.
    {
      int b = 50;
      int n = 120;
      int d = n + 1;
      double[] x = rand(r, (b + 3) * n);
      for (int k = 0; k < b + 3; k++) {
        for (int c = 0; c < n; c++) {
          if (c % 5 != 2 || r.nextDouble() < 0.6) {
            x[k * n + c] = 0;
          }
        }
      }
      DeviceArray hs = backend.rows(up(x, b + 3, n), 3, b + 3);
      DeviceArray gs = up(randSpd(r, d), d, d);
      double[] ones = new double[b];
      Arrays.fill(ones, 1);
      double[] e = metricRef(dl(gs), dl(hs), b, n, ones, 0.01);
      backend.sharedMetricUpdate(hs, 0.01, gs);
      double[] got = dl(gs);
      assertClose("shared metric, sparse columns", e, got, 1);
      for (int i = 0; i < d; i++) {
        for (int j = 0; j < i; j++) {
          assertEquals(got[i * d + j], got[j * d + i], 0.0, "shared metric, sparse columns: symmetric");
        }
      }
    }
    // h as a view with an offset
    DeviceArray big = up(rand(r, 20 * 4), 20, 4);
    DeviceArray h = backend.rows(big, 7, 16);
    DeviceArray g = up(randSpd(r, 5), 5, 5);
    double[] ones = new double[9];
    Arrays.fill(ones, 1);
    double[] e = metricRef(dl(g), dl(h), 9, 4, ones, 0.3);
    backend.sharedMetricUpdate(h, 0.3, g);
    assertClose("shared metric on a view", e, dl(g), 1);
    DeviceArray bad = alloc(4, 4);
    assertRejects(() -> backend.sharedMetricUpdate(h, 0.1, bad), "g", "[4, 4]", "5 x 5");
  }

  @Test
  void perNeuronMetricUpdate() {
    Random r = new Random(20);
    int[][] sizes = {{9, 7, 5}, {50, 80, 80}, {4, 2, 1}};
    double[] lambdas = {0.7, 0.005, 1.0};
    for (int t = 0; t < sizes.length; t++) {
      int[] s = sizes[t];
      double lambda = lambdas[t];
      int b = s[0];
      int n = s[1];
      int m = s[2];
      int d = n + 1;
      double[] h0 = rand(r, b * n);
      for (int i = 0; i < h0.length; i += 3) {
        h0[i] = 0; // ReLU-like zeros
      }
      DeviceArray h = up(h0, b, n);
      DeviceArray nu = up(randPositive(r, b * m), b, m);
      DeviceArray g = up(spdStack(r, m, d), m, d, d);
      double[] e = perNeuronRef(dl(g), dl(h), dl(nu), b, n, m, lambda);
      backend.perNeuronMetricUpdate(h, nu, lambda, g);
      assertClose("per-neuron metric " + Arrays.toString(s), e, dl(g), 1);
    }
    DeviceArray h = alloc(5, 3);
    DeviceArray nu = alloc(5, 2);
    DeviceArray bad = alloc(3, 4, 4);
    assertRejects(() -> backend.perNeuronMetricUpdate(h, nu, 0.1, bad), "g", "[3, 4, 4]");
    DeviceArray badNu = alloc(6, 2);
    DeviceArray g = alloc(2, 4, 4);
    assertRejects(() -> backend.perNeuronMetricUpdate(h, badNu, 0.1, g), "nu", "[6, 2]", "[5, 3]");
  }

  /**
   * The coefficients are weights: a negative nu counts as 0 on every backend (CUDA's kernels take
   * sqrt(max(nu, 0)); the CPU engines' per-neuron square-root GEMMs and their Java kernels clamp the same
   * way), and a zero weight removes the sample from that neuron's sum.
   */
  @Test
  void perNeuronMetricUpdateCountsNegativeCoefficientsAsZero() {
    Random r = new Random(22);
    int b = 12;
    int n = 9;
    int m = 6;
    int d = n + 1;
    double lambda = 0.3;
    DeviceArray h = up(rand(r, b * n), b, n);
    double[] nu0 = rand(r, b * m);  // signed
    nu0[5] = 0;
    DeviceArray nu = up(nu0, b, m);
    DeviceArray g = up(spdStack(r, m, d), m, d, d);
    double[] weights = dl(nu);
    for (int i = 0; i < weights.length; i++) {
      weights[i] = Math.max(0, weights[i]);
    }
    double[] e = perNeuronRef(dl(g), dl(h), weights, b, n, m, lambda);
    backend.perNeuronMetricUpdate(h, nu, lambda, g);
    assertClose("per-neuron metric, negative coefficients as 0", e, dl(g), 1);
  }

  /**
   * Samples of weight 0 add nothing (a CPU engine leaves their rows out of the GEMM), so a neuron with no
   * weight anywhere keeps only the moving average's keep G; but a non-finite h~_k is not left out: 0 x Inf
   * is NaN, and it reaches the row and column of that input in every neuron, weighted or not.
   */
  @Test
  void perNeuronMetricUpdateZeroWeightsAndNonFiniteInputs() {
    Random r = new Random(23);
    int b = 10;
    int n = 6;
    int m = 3;
    int d = n + 1;
    double lambda = 0.25;
    double[] nu0 = randPositive(r, b * m);
    for (int k = 0; k < b; k++) {
      nu0[k * m + 1] = 0;  // neuron 1: no weight anywhere
      if (k < 4) {
        nu0[k * m] = 0;  // neuron 0: none on samples 0..3
      }
    }
    nu0[2 * m + 2] = 0;  // neuron 2: none on sample 2
    DeviceArray nu = up(nu0, b, m);
    double[] h0 = rand(r, b * n);
    DeviceArray h = up(h0, b, n);
    DeviceArray g = up(spdStack(r, m, d), m, d, d);
    double[] e = perNeuronRef(dl(g), dl(h), dl(nu), b, n, m, lambda);
    backend.perNeuronMetricUpdate(h, nu, lambda, g);
    assertClose("per-neuron metric with zero weights", e, dl(g), 1);
    h0[2 * n + 4] = Double.POSITIVE_INFINITY;  // sample 2, input 4: weight 0 for every neuron but none
    backend.upload(h, h0);
    backend.perNeuronMetricUpdate(h, nu, lambda, g);
    double[] gv = dl(g);
    for (int i = 0; i < m; i++) {
      for (int x = 0; x < d; x++) {
        for (int y = 0; y < d; y++) {
          double v = gv[i * d * d + x * d + y];
          if (x == 4 || y == 4) {
            assertTrue(Double.isNaN(v), "0 x Inf must give NaN in neuron " + i + " at (" + x + ", " + y + "), got " + v);
          } else {
            assertTrue(Double.isFinite(v), "neuron " + i + " at (" + x + ", " + y + ") must stay finite, got " + v);
          }
        }
      }
    }
  }

  /** {@link #metricRef} for each neuron i of a per-neuron stack g (m x d x d), weights w[k][i] = nu[k * m + i]. */
  private static double[] perNeuronRef(double[] g, double[] h, double[] nu, int b, int n, int m,
      double lambda) {
    int d = n + 1;
    double[] e = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      double[] w = new double[b];
      for (int k = 0; k < b; k++) {
        w[k] = nu[k * m + i];
      }
      double[] gi = Arrays.copyOfRange(g, i * d * d, (i + 1) * d * d);
      System.arraycopy(metricRef(gi, h, b, n, w, lambda), 0, e, i * d * d, d * d);
    }
    return e;
  }

  @Test
  void addDiagonal() {
    Random r = new Random(21);
    DeviceArray s = up(rand(r, 3 * 5 * 5), 3, 5, 5);
    double[] e = dl(s);
    backend.addDiagonal(s, 0.25);
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 5; j++) {
        e[i * 25 + j * 6] += 0.25;
      }
    }
    assertClose("addDiagonal stack", e, dl(s));
    DeviceArray one = up(rand(r, 16), 4, 4);
    double[] e1 = dl(one);
    backend.addDiagonal(one, -2);
    for (int j = 0; j < 4; j++) {
      e1[j * 5] -= 2;
    }
    assertClose("addDiagonal matrix", e1, dl(one));
    DeviceArray bad = alloc(3, 4);
    assertRejects(() -> backend.addDiagonal(bad, 1), "g", "[3, 4]");
  }

  /** max |(sym(G) + damp I) Ginv - I| for one d x d matrix. */
  private static double inverseResidual(double[] g, int gOff, double damp, double[] ginv, int iOff, int d) {
    double worst = 0;
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        double s = 0;
        for (int p = 0; p < d; p++) {
          double gip = 0.5 * (g[gOff + i * d + p] + g[gOff + p * d + i]) + (i == p ? damp : 0);
          s += gip * ginv[iOff + p * d + j];
        }
        worst = Math.max(worst, Math.abs(s - (i == j ? 1 : 0)));
      }
    }
    return worst;
  }

  @Test
  void batchedInverseOfAStack() {
    Random r = new Random(22);
    int[][] sizes = {{5, 9}, {80, 81}, {3, 1}};
    for (int[] s : sizes) {
      int m = s[0];
      int d = s[1];
      double[] g0 = new double[m * d * d];
      double[] epsRel = new double[m];
      for (int i = 0; i < m; i++) {
        double[] a = randSpd(r, d);
        // a small antisymmetric perturbation: symmetrisation must remove it
        for (int p = 0; p < d; p++) {
          for (int q = p + 1; q < d; q++) {
            double k = 0.01 * (2 * r.nextDouble() - 1);
            a[p * d + q] += k;
            a[q * d + p] -= k;
          }
        }
        System.arraycopy(a, 0, g0, i * d * d, d * d);
        epsRel[i] = i % 2 == 0 ? 1e-4 : 0.05;
      }
      DeviceArray g = up(g0, m, d, d);
      DeviceArray ginv = alloc(m, d, d);
      double[] gv = dl(g);
      int[] status = backend.batchedInverse(g, epsRel, 1e-3, ginv);
      assertArrayEquals(new int[m], status, "all succeed");
      double[] iv = dl(ginv);
      for (int i = 0; i < m; i++) {
        double tr = 0;
        for (int j = 0; j < d; j++) {
          tr += gv[i * d * d + j * d + j];
        }
        double res = inverseResidual(gv, i * d * d, epsRel[i] * tr + 1e-3, iv, i * d * d, d);
        assertTrue(res <= 1e3 * tolerance() * d, "matrix " + i + " of " + Arrays.toString(s)
            + ": |G Ginv - I| = " + res);
        for (int p = 0; p < d; p++) {
          for (int q = 0; q < d; q++) {
            double a = iv[i * d * d + p * d + q];
            double b = iv[i * d * d + q * d + p];
            assertTrue(Math.abs(a - b) <= 10 * tolerance() * (Math.abs(a) + 1e-300) + 1e-300 || a == b,
                "inverse symmetric");
          }
        }
      }
      assertArrayEquals(gv, dl(g), 0.0, "g is not modified");
    }
  }

  @Test
  void batchedInverseOfOneLargeMatrix() {
    Random r = new Random(26);
    int d = 161;
    DeviceArray g = up(randSpd(r, d), d, d);
    DeviceArray ginv = alloc(d, d);
    assertArrayEquals(new int[] {0}, backend.batchedInverse(g, new double[] {1e-4}, 0, ginv));
    double[] gv = dl(g);
    double tr = 0;
    for (int j = 0; j < d; j++) {
      tr += gv[j * d + j];
    }
    double res = inverseResidual(gv, 0, 1e-4 * tr, dl(ginv), 0, d);
    assertTrue(res <= 1e3 * tolerance() * d, "|G Ginv - I| = " + res);
  }

  @Test
  void batchedInverseReportsFailuresAndLeavesThoseSlicesUntouched() {
    Random r = new Random(23);
    int m = 4;
    int d = 6;
    double[] g0 = spdStack(r, m, d);
    // matrix 1: diagonal with a negative third pivot
    double[] bad = new double[d * d];
    double[] diag = {1, 2, -5, 4, 1, 1};
    for (int j = 0; j < d; j++) {
      bad[j * d + j] = diag[j];
    }
    System.arraycopy(bad, 0, g0, d * d, d * d);
    // matrix 3: all zero with zero damping -> first pivot fails
    Arrays.fill(g0, 3 * d * d, 4 * d * d, 0.0);
    DeviceArray g = up(g0, m, d, d);
    double[] sentinel = new double[m * d * d];
    Arrays.fill(sentinel, 42.0);
    DeviceArray ginv = up(sentinel, m, d, d);
    int[] status = backend.batchedInverse(g, new double[] {1e-4, 0, 1e-4, 0}, 0, ginv);
    assertEquals(0, status[0]);
    assertEquals(3, status[1], "1-based failing pivot");
    assertEquals(0, status[2]);
    assertEquals(1, status[3], "1-based failing pivot");
    double[] iv = dl(ginv);
    double[] gv = dl(g);
    for (int i : new int[] {1, 3}) {
      for (int p = 0; p < d * d; p++) {
        assertEquals(42.0, iv[i * d * d + p], 0.0, "failed slice " + i + " untouched");
      }
    }
    for (int i : new int[] {0, 2}) {
      double tr = 0;
      for (int j = 0; j < d; j++) {
        tr += gv[i * d * d + j * d + j];
      }
      assertTrue(inverseResidual(gv, i * d * d, 1e-4 * tr, iv, i * d * d, d) <= 1e3 * tolerance() * d);
    }
    // a single D x D matrix
    DeviceArray one = up(randSpd(r, 7), 7, 7);
    DeviceArray oneInv = alloc(7, 7);
    assertArrayEquals(new int[] {0}, backend.batchedInverse(one, new double[] {0}, 0, oneInv));
    assertTrue(inverseResidual(dl(one), 0, 0, dl(oneInv), 0, 7) <= 1e3 * tolerance() * 7);
    assertRejects(() -> backend.batchedInverse(g, new double[3], 0, ginv), "epsRel", "3", "[4, 6, 6]");
    DeviceArray wrong = alloc(4, 5, 5);
    assertRejects(() -> backend.batchedInverse(g, new double[4], 0, wrong), "ginv", "[4, 5, 5]",
        "[4, 6, 6]");
  }

  @Test
  void perNeuronPrecondition() {
    Random r = new Random(24);
    int[][] sizes = {{9, 5}, {81, 80}, {3, 1}};
    for (int[] s : sizes) {
      int d = s[0];
      int m = s[1];
      DeviceArray ginv = up(rand(r, m * d * d), m, d, d);
      DeviceArray grad = up(rand(r, d * m), d, m);
      DeviceArray out = up(rand(r, d * m), d, m);
      double[] gi = dl(ginv);
      double[] gr = dl(grad);
      double[] ov = dl(out);
      double[] e = new double[d * m];
      for (int i = 0; i < m; i++) {
        for (int a = 0; a < d; a++) {
          double sum = 0;
          for (int p = 0; p < d; p++) {
            sum += gi[i * d * d + a * d + p] * gr[p * m + i];
          }
          e[a * m + i] = -0.7 * sum + 0.4 * ov[a * m + i];
        }
      }
      backend.perNeuronPrecondition(ginv, grad, -0.7, 0.4, out);
      assertClose("precondition " + Arrays.toString(s), e, dl(out), d);
      // beta = 0 ignores NaN in out; out may alias grad
      backend.perNeuronPrecondition(ginv, grad, 1.0, 0.0, grad);
      for (int i = 0; i < m; i++) {
        for (int a = 0; a < d; a++) {
          double sum = 0;
          for (int p = 0; p < d; p++) {
            sum += gi[i * d * d + a * d + p] * gr[p * m + i];
          }
          e[a * m + i] = sum;
        }
      }
      assertClose("precondition in place", e, dl(grad), d);
    }
    DeviceArray ginv = alloc(4, 3, 3);
    DeviceArray grad = alloc(3, 5);
    DeviceArray out = alloc(3, 5);
    assertRejects(() -> backend.perNeuronPrecondition(ginv, grad, 1, 0, out), "ginv", "[4, 3, 3]",
        "[3, 5]");
    DeviceArray g2 = alloc(5, 3, 3);
    DeviceArray out2 = alloc(5, 3);
    assertRejects(() -> backend.perNeuronPrecondition(g2, grad, 1, 0, out2), "out", "[5, 3]");
  }

  /** Per-neuron metric reference: slice i of g0 (m x d x d) updated with weights w[k] = coefficient(k, i). */
  private static double[] perNeuronRef(double[] g0, double[] h, int b, int n, int m, double lambda,
      double[][] weights) {
    int d = n + 1;
    double[] e = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      double[] gi = Arrays.copyOfRange(g0, i * d * d, (i + 1) * d * d);
      System.arraycopy(metricRef(gi, h, b, n, weights[i], lambda), 0, e, i * d * d, d * d);
    }
    return e;
  }

  private double[] spdStack(Random r, int m, int d) {
    double[] g = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      System.arraycopy(randSpd(r, d), 0, g, i * d * d, d * d);
    }
    return g;
  }

  @Test
  void metricUpdatesOfSeveralLayersMatchTheirReferences() {
    Random r = new Random(41);
    int b = 7;
    double lambda = 0.3;
    double omega = 1.5;
    Activation act = Activation.TANH;
    // layer 0: shared 6 -> (d 7); layers 1, 2: per-neuron 5 -> 4 from pre-activations, slices of one stack;
    // layer 3: per-neuron 5 -> 4 with given nu, its own array; layer 4: shared 3 -> (d 4)
    double[] h0 = rand(r, b * 6);
    double[] h1 = rand(r, b * 5);
    double[] h2 = rand(r, b * 5);
    double[] h3 = rand(r, b * 5);
    double[] h4 = rand(r, b * 3);
    double[] a1 = rand(r, b * 4);
    double[] a2 = rand(r, b * 4);
    double[] nu3 = randPositive(r, b * 4);
    double[] g0 = randSpd(r, 7);
    double[] gStack = spdStack(r, 8, 6);
    double[] g3 = spdStack(r, 4, 6);
    double[] g4 = randSpd(r, 4);
    DeviceArray dh0 = up(h0, b, 6);
    DeviceArray dh1 = up(h1, b, 5);
    DeviceArray dh2 = up(h2, b, 5);
    DeviceArray dh3 = up(h3, b, 5);
    DeviceArray dh4 = up(h4, b, 3);
    DeviceArray da1 = up(a1, b, 4);
    DeviceArray da2 = up(a2, b, 4);
    DeviceArray dnu3 = up(nu3, b, 4);
    DeviceArray scratch1 = alloc(b, 4);
    DeviceArray scratch2 = alloc(b, 4);
    DeviceArray dg0 = up(g0, 7, 7);
    DeviceArray stack = up(gStack, 8, 6, 6);
    DeviceArray dg3 = up(g3, 4, 6, 6);
    DeviceArray dg4 = up(g4, 4, 4);
    backend.metricUpdates(List.of(MetricUpdate.shared(dh0, dg0),
        MetricUpdate.fromPreActivations(dh1, act, da1, omega, scratch1, backend.rows(stack, 0, 4)),
        MetricUpdate.fromPreActivations(dh2, act, da2, omega, scratch2, backend.rows(stack, 4, 8)),
        MetricUpdate.perNeuron(dh3, dnu3, dg3), MetricUpdate.shared(dh4, dg4)), lambda);
    double[] ones = new double[b];
    Arrays.fill(ones, 1);
    // inputs as the backend holds them (float32 on a GPU)
    double[] hv1 = dl(dh1);
    double[] hv2 = dl(dh2);
    double[][] w1 = new double[4][b];
    double[][] w2 = new double[4][b];
    double[][] w3 = new double[4][b];
    double[] av1 = dl(da1);
    double[] av2 = dl(da2);
    double[] nv3 = dl(dnu3);
    for (int i = 0; i < 4; i++) {
      for (int k = 0; k < b; k++) {
        w1[i][k] = ActivationMath.nu(act, av1[k * 4 + i], omega);
        w2[i][k] = ActivationMath.nu(act, av2[k * 4 + i], omega);
        w3[i][k] = nv3[k * 4 + i];
      }
    }
    double[] gs = dl(up(gStack, 8, 6, 6));
    double[] e12 = new double[8 * 36];
    System.arraycopy(perNeuronRef(Arrays.copyOfRange(gs, 0, 4 * 36), hv1, b, 5, 4, lambda, w1), 0, e12, 0,
        4 * 36);
    System.arraycopy(perNeuronRef(Arrays.copyOfRange(gs, 4 * 36, 8 * 36), hv2, b, 5, 4, lambda, w2), 0, e12,
        4 * 36, 4 * 36);
    assertClose("shared layer 0", metricRef(dl(up(g0, 7, 7)), dl(dh0), b, 6, ones, lambda), dl(dg0), 1);
    assertClose("per-neuron layers 1, 2 (one stack)", e12, dl(stack), 1);
    assertClose("per-neuron layer 3 (given nu)", perNeuronRef(dl(up(g3, 4, 6, 6)), dl(dh3), b, 5, 4, lambda,
        w3), dl(dg3), 1);
    assertClose("shared layer 4", metricRef(dl(up(g4, 4, 4)), dl(dh4), b, 3, ones, lambda), dl(dg4), 1);
    backend.metricUpdates(List.of(), lambda);  // nothing to do
    assertRejects(() -> backend.metricUpdates(List.of(MetricUpdate.shared(dh0, dg4)), lambda), "g", "[4, 4]");
    assertRejects(() -> backend.metricUpdates(List.of(MetricUpdate.perNeuron(dh1, dnu3, dg0)), lambda), "g",
        "[7, 7]");
  }

  @Test
  void refreshInversesAllMatchesRefreshingEachLayer() {
    Random r = new Random(43);
    int m = 3;
    int d = 5;
    // two layers of one shape as views of one stack (metric, inverse, damping, failure counter), a NaN slice in
    // the second; then a single shared matrix with its own arrays
    double[] stack = spdStack(r, 2 * m, d);
    Arrays.fill(stack, 4 * d * d + 7, 4 * d * d + 8, Double.NaN);
    double[] single = randSpd(r, 4);
    double[] oldInv = rand(r, 2 * m * d * d);
    double[] eps0 = {1e-3, 0, 2e-3, 1e-3, 5e-4, 0};
    DeviceArray g = up(stack, 2 * m, d, d);
    DeviceArray gi = up(oldInv, 2 * m, d, d);
    DeviceArray eps = up(eps0, 2 * m);
    DeviceArray fails = alloc(2);
    DeviceArray s = up(single, 4, 4);
    DeviceArray si = alloc(4, 4);
    DeviceArray se = up(new double[] {1e-4}, 1);
    DeviceArray sf = alloc(1);
    backend.refreshInversesAll(List.of(backend.rows(g, 0, m), backend.rows(g, m, 2 * m), s),
        List.of(backend.rows(eps, 0, m), backend.rows(eps, m, 2 * m), se), 1e-6,
        List.of(backend.rows(gi, 0, m), backend.rows(gi, m, 2 * m), si),
        List.of(backend.rows(fails, 0, 1), backend.rows(fails, 1, 2), sf));
    double[] inv = dl(gi);
    double[] epsAfter = dl(eps);
    double[] failsAfter = dl(fails);
    double[] sInv = dl(si);
    // the reference: each layer on its own arrays
    for (int layer = 0; layer < 2; layer++) {
      int from = layer * m * d * d;
      DeviceArray lg = up(Arrays.copyOfRange(stack, from, from + m * d * d), m, d, d);
      DeviceArray lgi = up(Arrays.copyOfRange(oldInv, from, from + m * d * d), m, d, d);
      DeviceArray le = up(Arrays.copyOfRange(eps0, layer * m, layer * m + m), m);
      DeviceArray lf = alloc(1);
      backend.refreshInverses(lg, le, 1e-6, lgi, lf);
      assertClose("layer " + layer + " inverses", dl(lgi), Arrays.copyOfRange(inv, from, from + m * d * d), 1);
      assertArrayEquals(dl(le), Arrays.copyOfRange(epsAfter, layer * m, layer * m + m), "layer " + layer
          + " damping");
      assertEquals(dl(lf)[0], failsAfter[layer], "layer " + layer + " failures");
    }
    assertEquals(0, failsAfter[0], "the first layer has no failed slice");
    assertEquals(1, failsAfter[1], "the NaN slice of the second layer failed");
    DeviceArray rg = up(single, 4, 4);
    DeviceArray ri = alloc(4, 4);
    DeviceArray re = up(new double[] {1e-4}, 1);
    DeviceArray rf = alloc(1);
    backend.refreshInverses(rg, re, 1e-6, ri, rf);
    assertClose("single matrix inverse", dl(ri), sInv, 1);
    assertEquals(0, dl(sf)[0]);
    assertRejects(() -> backend.refreshInversesAll(List.of(g), List.of(), 0, List.of(gi), List.of(fails)),
        "epsRels");
  }

  @Test
  void preconditionLayersMatchesEachLayersProduct() {
    Random r = new Random(42);
    // {d, m, per-neuron (1) or shared (0), in place (1)}; d 300 > the GPU's batched-kernel limit of 256
    int[][] layers = {{7, 3, 0, 0}, {6, 4, 1, 1}, {6, 4, 1, 0}, {5, 2, 0, 1}, {300, 2, 0, 0}, {260, 2, 1, 1}};
    List<DeviceArray> ginvs = new ArrayList<>();
    List<DeviceArray> grads = new ArrayList<>();
    List<DeviceArray> outs = new ArrayList<>();
    List<double[]> expected = new ArrayList<>();
    double alpha = -0.6;
    double beta = 0.5;
    for (int[] l : layers) {
      int d = l[0];
      int m = l[1];
      boolean perNeuron = l[2] == 1;
      boolean inPlace = l[3] == 1;
      DeviceArray gi = perNeuron ? up(rand(r, m * d * d), m, d, d) : up(rand(r, d * d), d, d);
      DeviceArray gr = up(rand(r, d * m), d, m);
      DeviceArray o = inPlace ? gr : up(rand(r, d * m), d, m);
      double[] giv = dl(gi);
      double[] grv = dl(gr);
      double[] ov = dl(o);
      double[] e = new double[d * m];
      for (int i = 0; i < m; i++) {
        int base = perNeuron ? i * d * d : 0;
        for (int a = 0; a < d; a++) {
          double sum = 0;
          for (int p = 0; p < d; p++) {
            sum += giv[base + a * d + p] * grv[p * m + i];
          }
          e[a * m + i] = alpha * sum + beta * ov[a * m + i];
        }
      }
      ginvs.add(gi);
      grads.add(gr);
      outs.add(o);
      expected.add(e);
    }
    backend.preconditionLayers(ginvs, grads, alpha, beta, outs);
    for (int i = 0; i < layers.length; i++) {
      assertClose("layer " + i + " " + Arrays.toString(layers[i]), expected.get(i), dl(outs.get(i)), layers[i][0]);
    }
    assertRejects(() -> backend.preconditionLayers(List.of(ginvs.get(0)), List.of(grads.get(1)), 1, 0,
        List.of(outs.get(1))), "ginvs[0]", "[7, 7]");
    assertRejects(() -> backend.preconditionLayers(ginvs, grads, 1, 0, List.of()), "outs");
  }

  @Test
  void perNeuronPreconditionBetaZeroIgnoresNaN() {
    Random r = new Random(25);
    DeviceArray ginv = up(rand(r, 2 * 4 * 4), 2, 4, 4);
    DeviceArray grad = up(rand(r, 8), 4, 2);
    double[] nan = new double[8];
    Arrays.fill(nan, Double.NaN);
    DeviceArray out = up(nan, 4, 2);
    backend.perNeuronPrecondition(ginv, grad, 2.0, 0.0, out);
    for (double v : dl(out)) {
      assertTrue(Double.isFinite(v));
    }
  }

  @Test
  void closedArraysAndForeignArraysAreRejected() {
    DeviceArray a = backend.allocate(3);
    a.close();
    assertThrows(IllegalArgumentException.class, () -> backend.fill(a, 1));
    assertRejects(() -> backend.scale(2, null), "x");
  }
}
