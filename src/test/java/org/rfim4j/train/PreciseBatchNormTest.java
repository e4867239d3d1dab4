package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.data.Dataset;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.BatchNorm;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Adam;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.testutil.Synthetic;

class PreciseBatchNormTest {
  static final int D = 5;
  static final int[] HIDDEN = {4, 3};
  static final int CLASSES = 3;
  static final double EPS = 1e-3;

  static MlpConfig config(long seed) {
    return new MlpConfig(D, HIDDEN, CLASSES, Activation.TANH, Architecture.BNA, 1e-3, 0.5, seed, 0.9, EPS);
  }

  /**
   * The recomputed running statistics equal the equally weighted average, over consecutive batches, of the
   * batches' means and unbiased variances, computed here on the host from the downloaded weights by an
   * independent training-mode forward pass; restore puts the running averages back exactly.
   */
  @Test
  void recomputesThePopulationAverageOfBatchStatisticsAndRestores() {
    Dataset train = Synthetic.blobs("train", 47, D, CLASSES, 3); // 4 full batches of 10, 7 rows left out
    try (Backend backend = new CpuBackend(); Mlp model = new Mlp(backend, config(7), 500);
        Optimizer opt = new Adam(model, 0.01); Trainer trainer = new Trainer(model, opt, TrainerConfig.of(2, 10, 1))) {
      trainer.fit(train, Synthetic.blobs("val", 20, D, CLASSES, 4)); // running stats now an EMA, not the population
      List<double[]> p = model.downloadParameters(); // W1, gamma1, beta1, W2, gamma2, beta2, W3
      List<BatchNorm> bns = new ArrayList<>();
      model.layers().forEach(l -> {
        if (l.batchNorm() != null) {
          bns.add(l.batchNorm());
        }
      });
      List<double[]> ema = new ArrayList<>();
      for (BatchNorm bn : bns) {
        ema.add(backend.download(bn.runningMean()));
        ema.add(backend.download(bn.runningVar()));
      }
      double[][] expected = reference(train, p, 10);
      try (PreciseBatchNorm pbn = new PreciseBatchNorm(model, train, 10)) {
        pbn.recompute();
        for (int i = 0; i < 2; i++) {
          double[] mean = backend.download(bns.get(i).runningMean());
          double[] var = backend.download(bns.get(i).runningVar());
          assertArrayEquals(expected[2 * i], mean, 1e-12, "layer " + (i + 1) + " mean");
          assertArrayEquals(expected[2 * i + 1], var, 1e-12, "layer " + (i + 1) + " variance");
          assertTrue(maxDiff(ema.get(2 * i), mean) > 1e-3, "the EMA already equalled the population mean");
        }
        List<double[]> after = model.downloadParameters();
        for (int i = 0; i < p.size(); i++) {
          assertArrayEquals(p.get(i), after.get(i), 0.0, "parameter " + i + " changed");
        }
        pbn.restore();
        for (int i = 0; i < 2; i++) {
          assertArrayEquals(ema.get(2 * i), backend.download(bns.get(i).runningMean()), 0.0);
          assertArrayEquals(ema.get(2 * i + 1), backend.download(bns.get(i).runningVar()), 0.0);
        }
      }
    }
  }

  private static double maxDiff(double[] a, double[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  /** Host forward pass in training mode, batch by batch; returns {mean1, var1, mean2, var2} averaged over batches. */
  private static double[][] reference(Dataset data, List<double[]> p, int b) {
    int batches = data.n() / b;
    double[][] sums = {new double[HIDDEN[0]], new double[HIDDEN[0]], new double[HIDDEN[1]], new double[HIDDEN[1]]};
    float[] x = data.features();
    for (int k = 0; k < batches; k++) {
      double[][] in = new double[b][D];
      for (int r = 0; r < b; r++) {
        for (int j = 0; j < D; j++) {
          in[r][j] = x[(k * b + r) * D + j];
        }
      }
      int fanIn = D;
      for (int l = 0; l < 2; l++) {
        double[] w = p.get(3 * l);
        double[] gamma = p.get(3 * l + 1);
        double[] beta = p.get(3 * l + 2);
        int out = HIDDEN[l];
        double[][] h = new double[b][out];
        for (int r = 0; r < b; r++) {
          for (int o = 0; o < out; o++) {
            double s = w[fanIn * out + o]; // bias row last
            for (int j = 0; j < fanIn; j++) {
              s += in[r][j] * w[j * out + o];
            }
            h[r][o] = Math.tanh(s);
          }
        }
        double[][] z = new double[b][out];
        for (int o = 0; o < out; o++) {
          double mu = 0;
          for (int r = 0; r < b; r++) {
            mu += h[r][o];
          }
          mu /= b;
          double ss = 0;
          for (int r = 0; r < b; r++) {
            ss += (h[r][o] - mu) * (h[r][o] - mu);
          }
          sums[2 * l][o] += mu / batches;
          sums[2 * l + 1][o] += ss / (b - 1) / batches;
          for (int r = 0; r < b; r++) {
            z[r][o] = gamma[o] * (h[r][o] - mu) / Math.sqrt(ss / b + EPS) + beta[o];
          }
        }
        in = z;
        fanIn = out;
      }
    }
    return sums;
  }

  /**
   * Training with a precise-BN evaluation after every epoch (recompute, evaluate, restore) follows the same
   * trajectory bit for bit as training without it: same curve, same parameters and running statistics.
   */
  @Test
  void passBetweenEpochsLeavesTrainingBitIdentical() {
    Dataset train = Synthetic.blobs("train", 60, D, CLASSES, 5);
    Dataset val = Synthetic.blobs("val", 30, D, CLASSES, 6);
    RngdConfig rc = RngdConfig.defaults(0.05).withRefreshPeriod(3);
    Result plain = train(OptimizerSpec.rngd(rc), train, val, false);
    Result probed = train(OptimizerSpec.rngd(rc), train, val, true);
    assertEquals(plain.curve.size(), 3);
    for (int i = 0; i < plain.curve.size(); i++) {
      EpochResult a = plain.curve.get(i);
      EpochResult b = probed.curve.get(i);
      assertEquals(a.trainLoss(), b.trainLoss(), 0.0);
      assertEquals(a.valLoss(), b.valLoss(), 0.0);
      assertEquals(a.valError(), b.valError(), 0.0);
    }
    assertEquals(plain.arrays.keySet(), probed.arrays.keySet());
    for (String k : plain.arrays.keySet()) {
      assertArrayEquals(plain.arrays.get(k), probed.arrays.get(k), 0.0, k);
    }
    // The probe did evaluate with statistics other than the running ones.
    assertEquals(3, probed.preciseLoss.size());
    for (int i = 0; i < 3; i++) {
      assertNotEquals(plain.curve.get(i).valLoss(), probed.preciseLoss.get(i));
    }
  }

  private record Result(List<EpochResult> curve, Map<String, double[]> arrays, List<Double> preciseLoss) {}

  private static Result train(OptimizerSpec spec, Dataset train, Dataset val, boolean probe) {
    try (Backend backend = new CpuBackend(); Mlp model = new Mlp(backend, config(11), 500);
        Optimizer opt = spec.create(model); Trainer trainer = new Trainer(model, opt, TrainerConfig.of(3, 10, 2));
        PreciseBatchNorm pbn = new PreciseBatchNorm(model, train, 10);
        DeviceDataset dval = new DeviceDataset(backend, val)) {
      List<Double> losses = new ArrayList<>();
      if (probe) {
        trainer.addListener(new TrainingListener() {
          @Override
          public void onEpochEnd(EpochResult r) {
            pbn.recompute();
            losses.add(trainer.evaluate(dval).loss());
            pbn.restore();
          }
        });
      }
      List<EpochResult> curve = new ArrayList<>(trainer.fit(train, val));
      Map<String, double[]> arrays = new java.util.LinkedHashMap<>();
      for (Map.Entry<String, DeviceArray> e : model.namedArrays().entrySet()) {
        arrays.put(e.getKey(), backend.download(e.getValue()));
      }
      for (Map.Entry<String, DeviceArray> e : opt.state().entrySet()) {
        arrays.put("opt." + e.getKey(), backend.download(e.getValue()));
      }
      return new Result(curve, arrays, losses);
    }
  }
}
