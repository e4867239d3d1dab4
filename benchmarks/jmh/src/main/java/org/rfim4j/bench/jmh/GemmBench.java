package org.rfim4j.bench.jmh;

import java.util.Locale;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * {@link Backend#gemm} at the shapes one training step of the paper's 784-80-80-80-10 network at batch 50
 * issues. A shape is {@code OP:MxKxN[+C]}: C (M x N) = op(A) (M x K) op(B) (K x N), OP the two transpose
 * flags (N or T) as in BLAS, "+C" for beta = 1 (accumulate into C), else beta = 0.
 *
 * <ul>
 *   <li>NN:50x784x80 and NN:50x80x80: forward, input and hidden layers (X W)</li>
 *   <li>TN:784x50x80 and TN:80x50x80: weight gradients (X^T delta)</li>
 *   <li>NT:50x80x80 and NT:50x10x80: back-propagated deltas (delta W^T), hidden and softmax layer</li>
 *   <li>NN:785x785x80+C: RNGD step of the input layer with its shared metric (W -= lr Ginv grad)</li>
 * </ul>
 */
public class GemmBench extends BackendBench {
  @Param({"NN:50x784x80", "NN:50x80x80", "TN:784x50x80", "TN:80x50x80", "NT:50x80x80", "NT:50x10x80",
      "NN:785x785x80+C"})
  public String shape;

  private DeviceArray a;
  private DeviceArray bm;
  private DeviceArray c;
  private boolean transA;
  private boolean transB;
  private double beta;

  @Setup
  public void setUp() {
    String s = shape.trim().toUpperCase(Locale.ROOT);
    if (!s.matches("[NT]{2}:\\d+X\\d+X\\d+(\\+C)?")) {
      throw new IllegalArgumentException("shape must look like NN:50x784x80 or NN:785x785x80+C, got " + shape);
    }
    transA = s.charAt(0) == 'T';
    transB = s.charAt(1) == 'T';
    beta = s.endsWith("+C") ? 1.0 : 0.0;
    String[] mkn = s.substring(3).replace("+C", "").split("X");
    int m = Integer.parseInt(mkn[0]);
    int k = Integer.parseInt(mkn[1]);
    int n = Integer.parseInt(mkn[2]);
    b = Backends.open(backend);
    SplittableRandom rng = new SplittableRandom(42);
    a = transA ? Backends.uniform(b, rng, -1, 1, k, m) : Backends.uniform(b, rng, -1, 1, m, k);
    bm = transB ? Backends.uniform(b, rng, -1, 1, n, k) : Backends.uniform(b, rng, -1, 1, k, n);
    c = Backends.uniform(b, rng, -1e-3, 1e-3, m, n);
    b.synchronize();
  }

  @Benchmark
  public void gemm() {
    b.gemm(transA, transB, beta == 0 ? 1.0 : -1e-3, a, bm, beta, c);
    b.synchronize();
  }

  @TearDown
  public void tearDown() {
    Backends.close(a, bm, c);
    b.close();
  }
}
