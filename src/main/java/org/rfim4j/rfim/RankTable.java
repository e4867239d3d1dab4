package org.rfim4j.rfim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Reproduces the rank analysis of paper Section 4 (MATH.md section 7) on a 3-2-2 network
 * (tanh hidden layer, Bernoulli-sigmoid outputs, dim Theta = 14, m = 2 outputs):
 *
 * <ul>
 *   <li>the eq. (3) FIM averaged over n inputs has rank min(n m, 14) = min(2n, 14);
 *   <li>one hidden neuron's averaged RFIM (tanh, Bernoulli +-1) gains one rank per sample up to fan-in +
 *       1 = 4: min(n, 4);
 *   <li>the hidden layer RFIM (2 neurons) gains m = 2 per sample: min(2n, 8).
 * </ul>
 *
 * The weights are the fixed moderate {@link #W1}, {@link #W2} (large random weights saturate tanh and make
 * the FIM so ill-conditioned that eigenvalues fall below the rank tolerance); the inputs are standard
 * normal draws from a seed. Ranks use {@link Rank} with relative tolerance 1e-10.
 */
public final class RankTable {
  /** One row of the table. */
  public record Row(int n, int fimRank, int fimBound, int neuronRank, int neuronBound, int layerRank, int layerBound) {}

  /** Hidden weights (4 x 2) of the 3-2-2 net, as in the reference verify.py (moderate, unsaturated). */
  public static final double[][] W1 = {{0.9, -0.5}, {-0.4, 0.8}, {0.3, 0.1}, {0.1, -0.2}};
  /** Output weights (3 x 2). */
  public static final double[][] W2 = {{0.7, -1.1}, {0.5, 0.4}, {-0.2, 0.3}};

  /** Default seed. */
  public static final long DEFAULT_SEED = 20170806L;

  private final List<Row> rows;

  private RankTable(List<Row> rows) {
    this.rows = rows;
  }

  /** Computes the table for n = 1..maxN with the given seed. */
  public static RankTable compute(int maxN, long seed) {
    if (maxN < 1) {
      throw new IllegalArgumentException("maxN must be >= 1");
    }
    Random rng = new Random(seed);
    double[][] w1 = W1.clone();
    double[][] w2 = W2.clone();
    double[][] xAll = gauss(rng, maxN, 3);
    NeuronFamily tanh = NeuronFamily.of("tanh");
    int dimTheta = 4 * 2 + 3 * 2;
    List<Row> out = new ArrayList<>();
    for (int n = 1; n <= maxN; n++) {
      double[][] xs = java.util.Arrays.copyOf(xAll, n);
      int fim = Rank.of(MlpFisher.eq3(tanh, w1, w2, xs));
      int neuron = Rank.of(ClosedForms.neuronBatchMean(tanh, Mat.column(w1, 0), xs));
      int layer = Rank.of(ClosedForms.nonlinearLayerBatchMean(tanh, w1, xs));
      out.add(new Row(n, fim, Math.min(2 * n, dimTheta), neuron, Math.min(n, 4), layer, Math.min(2 * n, 8)));
    }
    return new RankTable(out);
  }

  /** The standard table: n = 1..12, {@link #DEFAULT_SEED}. */
  public static RankTable standard() {
    return compute(12, DEFAULT_SEED);
  }

  private static double[][] gauss(Random rng, int r, int c) {
    double[][] m = new double[r][c];
    for (int i = 0; i < r; i++) {
      for (int j = 0; j < c; j++) {
        m[i][j] = rng.nextGaussian();
      }
    }
    return m;
  }

  public List<Row> rows() {
    return Collections.unmodifiableList(rows);
  }

  /** Plain-text rendering. */
  public String format() {
    StringBuilder sb = new StringBuilder();
    sb.append("Section 4 ranks: 3-2-2 net (tanh hidden, Bernoulli-sigmoid outputs), dim Theta = 14\n");
    sb.append(String.format(Locale.ROOT, "%3s  %8s %14s  %11s %12s  %10s %13s%n",
        "n", "FIM rank", "min(2n,14)", "neuron rank", "min(n,4)", "layer rank", "min(2n,8)"));
    for (Row r : rows) {
      sb.append(String.format(Locale.ROOT, "%3d  %8d %14d  %11d %12d  %10d %13d%n",
          r.n(), r.fimRank(), r.fimBound(), r.neuronRank(), r.neuronBound(), r.layerRank(), r.layerBound()));
    }
    return sb.toString();
  }
}
