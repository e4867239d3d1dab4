package org.rfim4j.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rfim4j.train.Curves;
import org.rfim4j.train.EpochResult;

/** Markdown tables of learning curves: mean and spread over seeds. */
public final class Summary {
  private Summary() {}

  /** Mean of the values. */
  public static double mean(List<Double> v) {
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return s / v.size();
  }

  /** Sample standard deviation (0 for one value). */
  public static double std(List<Double> v) {
    if (v.size() < 2) {
      return 0;
    }
    double m = mean(v);
    double s = 0;
    for (double x : v) {
      s += (x - m) * (x - m);
    }
    return Math.sqrt(s / (v.size() - 1));
  }

  /**
   * A table with one row per optimizer: final validation error (mean +- std over seeds), best validation
   * error, final training error, median seconds per epoch; then validation error per epoch.
   */
  public static String markdown(String title, Map<String, List<List<EpochResult>>> curves) {
    StringBuilder sb = new StringBuilder();
    sb.append("## ").append(title).append("\n\n");
    sb.append("| optimizer | seeds | epochs | final val error % | best val error % | final train error % | s/epoch (median) |\n");
    sb.append("|---|---|---|---|---|---|---|\n");
    int maxEpochs = 0;
    for (Map.Entry<String, List<List<EpochResult>>> e : curves.entrySet()) {
      List<List<EpochResult>> runs = e.getValue();
      if (runs.isEmpty()) {
        sb.append("| ").append(e.getKey()).append(" | 0 | - | diverged | - | - | - |\n");
        continue;
      }
      List<Double> fin = new ArrayList<>();
      List<Double> best = new ArrayList<>();
      List<Double> train = new ArrayList<>();
      List<Double> spe = new ArrayList<>();
      int epochs = Integer.MAX_VALUE;
      for (List<EpochResult> r : runs) {
        EpochResult last = r.get(r.size() - 1);
        fin.add(100 * last.valError());
        train.add(100 * last.trainError());
        best.add(100 * r.stream().mapToDouble(EpochResult::valError).min().orElse(Double.NaN));
        spe.addAll(Curves.secondsPerEpoch(r));
        epochs = Math.min(epochs, r.size());
      }
      maxEpochs = Math.max(maxEpochs, epochs);
      sb.append(String.format(Locale.ROOT, "| %s | %d | %d | %.2f ± %.2f | %.2f ± %.2f | %.2f ± %.2f | %.2f |\n",
          e.getKey(), runs.size(), epochs, mean(fin), std(fin), mean(best), std(best), mean(train), std(train),
          Curves.median(spe)));
    }
    sb.append("\nValidation error % per epoch (mean ± std over seeds):\n\n| epoch |");
    for (String k : curves.keySet()) {
      sb.append(' ').append(k).append(" |");
    }
    sb.append("\n|---|");
    curves.keySet().forEach(k -> sb.append("---|"));
    sb.append('\n');
    for (int ep = 0; ep < maxEpochs; ep++) {
      sb.append("| ").append(ep + 1).append(" |");
      for (List<List<EpochResult>> runs : curves.values()) {
        List<Double> v = new ArrayList<>();
        for (List<EpochResult> r : runs) {
          if (ep < r.size()) {
            v.add(100 * r.get(ep).valError());
          }
        }
        sb.append(v.isEmpty() ? " - |" : String.format(Locale.ROOT, " %.2f ± %.2f |", mean(v), std(v)));
      }
      sb.append('\n');
    }
    return sb.toString();
  }
}
