package org.rfim4j.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.rfim4j.io.AtomicFiles;
import org.rfim4j.train.Curves;
import org.rfim4j.train.EpochResult;

/**
 * The tables and plots of {@code reproduce fig2}, built from the run folders on disk (so that a partial run
 * can be reported, and the report rebuilt with {@code --report}). Layout under the output folder:
 * {@code sweep/ARCH-OPT-lrRATE/} (selection runs) and {@code ARCH-OPT-seedS/} (reported runs), each with
 * {@code curve.csv}, {@code eval.csv} and, for a run stopped by divergence, {@code stopped.txt}.
 */
final class Fig2Report {
  /** The selection rule, as stated in the outputs. */
  static final String RULE = "every candidate rate is trained for the full number of epochs on the selection seed; "
      + "its score is the mean validation error (the paper's evaluation: batch-norm running statistics, decay "
      + "0.999) of its last three epochs; the lowest score wins (a diverged run scores +inf); when the winner is "
      + "the smallest or largest rate tried, the grid is extended by one step beyond it and the new rate "
      + "trained (at most --max-extensions times); a winner still on the edge is reported as EDGE";

  static final String STOPPED = "stopped.txt";
  static final String LR_FILE = "lr.txt";

  private Fig2Report() {}

  /** One run folder read back. */
  record RunData(List<EpochResult> curve, List<double[]> eval, String stopped) {
    boolean complete(int epochs) {
      return stopped == null && curve.size() >= epochs;
    }

    /** Precise-BN validation error per epoch (NaN where absent). */
    double preciseVal(int i) {
      return i < eval.size() ? eval.get(i)[4] : Double.NaN;
    }

    double test(int i) {
      return i < eval.size() ? eval.get(i)[2] : Double.NaN;
    }

    double preciseTest(int i) {
      return i < eval.size() ? eval.get(i)[6] : Double.NaN;
    }
  }

  /** One candidate of a sweep. */
  record Candidate(double lr, RunData run, double score, double preciseScore, String status) {}

  /** The sweep of one architecture and optimizer. */
  record Sweep(List<Candidate> candidates, Candidate chosen, boolean edge, Candidate preciseChoice) {}

  static String lrName(double lr) {
    return java.math.BigDecimal.valueOf(lr).stripTrailingZeros().toPlainString();
  }

  static Path sweepDir(Path out, String arch, String opt, double lr) {
    return out.resolve("sweep").resolve(arch + "-" + opt + "-lr" + lrName(lr));
  }

  static Path seedDir(Path out, String arch, String opt, int seed) {
    return out.resolve(arch + "-" + opt + "-seed" + seed);
  }

  /** The selection score: mean of the last three values (fewer when the curve is shorter); +inf when incomplete. */
  static double score(List<Double> values, int epochs, boolean complete) {
    if (!complete || values.size() < epochs) {
      return Double.POSITIVE_INFINITY;
    }
    int k = Math.min(3, epochs);
    double s = 0;
    for (int i = epochs - k; i < epochs; i++) {
      s += values.get(i);
    }
    return s / k;
  }

  /** Reads a run folder; null when it holds no curve. */
  static RunData read(Path dir) {
    Path csv = dir.resolve(Runner.CURVE_CSV);
    if (!Files.isRegularFile(csv)) {
      return null;
    }
    try {
      List<EpochResult> curve = new ArrayList<>();
      for (String line : Files.readAllLines(csv)) {
        if (line.isEmpty() || !Character.isDigit(line.charAt(0))) {
          continue;
        }
        String[] f = line.split(",");
        curve.add(new EpochResult(Integer.parseInt(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2]),
            Double.parseDouble(f[3]), Double.parseDouble(f[4]), Double.parseDouble(f[5])));
      }
      List<double[]> eval = new ArrayList<>();
      Path ev = dir.resolve(EvalProbe.FILE);
      if (Files.isRegularFile(ev)) {
        for (String line : Files.readAllLines(ev)) {
          if (line.isEmpty() || !Character.isDigit(line.charAt(0))) {
            continue;
          }
          String[] f = line.split(",", -1);
          double[] row = new double[8];
          for (int i = 0; i < row.length; i++) {
            row[i] = i < f.length && !f[i].isEmpty() ? Double.parseDouble(f[i]) : Double.NaN;
          }
          eval.add(row);
        }
      }
      // Only the epochs both files hold (a kill between the two writes leaves eval.csv one epoch behind).
      int n = Math.min(curve.size(), eval.size());
      Path st = dir.resolve(STOPPED);
      String stopped = Files.isRegularFile(st) ? Files.readString(st).strip() : null;
      return new RunData(new ArrayList<>(curve.subList(0, n)), new ArrayList<>(eval.subList(0, n)), stopped);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + dir + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw new IllegalStateException("malformed run folder " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Every rate of {@code arch}/{@code opt} found under {@code out/sweep}, scored, smallest rate first. */
  static Sweep sweep(Path out, String arch, String opt, int epochs) {
    String prefix = arch + "-" + opt + "-lr";
    List<Candidate> cands = new ArrayList<>();
    Path sw = out.resolve("sweep");
    if (Files.isDirectory(sw)) {
      try (Stream<Path> dirs = Files.list(sw)) {
        for (Path d : (Iterable<Path>) dirs.sorted()::iterator) {
          String name = d.getFileName().toString();
          if (!name.startsWith(prefix)) {
            continue;
          }
          double lr;
          try {
            lr = Double.parseDouble(name.substring(prefix.length()));
          } catch (NumberFormatException e) {
            continue;
          }
          RunData r = read(d);
          if (r == null) {
            continue;
          }
          boolean complete = r.complete(epochs);
          List<Double> v = new ArrayList<>();
          List<Double> p = new ArrayList<>();
          for (int i = 0; i < r.curve().size(); i++) {
            v.add(r.curve().get(i).valError());
            p.add(r.preciseVal(i));
          }
          String status = r.stopped() != null ? "diverged" : complete ? "ok"
              : "incomplete (" + r.curve().size() + " of " + epochs + " epochs)";
          cands.add(new Candidate(lr, r, score(v, epochs, complete), score(p, epochs, complete), status));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot list " + sw + ": " + e.getMessage(), e);
      }
    }
    cands.sort((a, b) -> Double.compare(a.lr(), b.lr()));
    Candidate best = argmin(cands, false);
    Candidate bestPrecise = argmin(cands, true);
    boolean edge = best != null && cands.size() > 0
        && (best == cands.get(0) || best == cands.get(cands.size() - 1));
    return new Sweep(cands, best, edge, bestPrecise);
  }

  private static Candidate argmin(List<Candidate> cands, boolean precise) {
    Candidate best = null;
    for (Candidate c : cands) {
      double s = precise ? c.preciseScore() : c.score();
      if (Double.isFinite(s) && (best == null || s < (precise ? best.preciseScore() : best.score()))) {
        best = c;
      }
    }
    return best;
  }

  /** The reported runs of one architecture and optimizer that exist, by seed. */
  static Map<Integer, RunData> reported(Path out, String arch, String opt, int seeds) {
    Map<Integer, RunData> m = new LinkedHashMap<>();
    for (int s = 1; s <= seeds; s++) {
      RunData r = read(seedDir(out, arch, opt, s));
      if (r != null) {
        m.put(s, r);
      }
    }
    return m;
  }

  /** Two-sided 95% quantile of Student's t with {@code df} degrees of freedom (t_{0.975, df}). */
  static double t975(int df) {
    if (df < 1) {
      return Double.NaN;
    }
    double[] table = {12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
        2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639,
        2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
    if (df <= table.length) {
      return table[df - 1];
    }
    // Cornish-Fisher expansion around the normal quantile (error below 1e-4 for df > 30).
    double z = 1.959963984540054;
    double z3 = z * z * z;
    double z5 = z3 * z * z;
    double z7 = z5 * z * z;
    return z + (z3 + z) / (4.0 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96.0 * df * df)
        + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384.0 * df * df * df);
  }

  /** Half-width of the 95% t interval of the mean (NaN for fewer than two values). */
  static double ci95(List<Double> v) {
    return v.size() < 2 ? Double.NaN : t975(v.size() - 1) * Summary.std(v) / Math.sqrt(v.size());
  }

  private static String stat(List<Double> v) {
    if (v.isEmpty()) {
      return "-";
    }
    double m = Summary.mean(v);
    double h = ci95(v);
    return Double.isNaN(h) ? String.format(Locale.ROOT, "%.2f", m)
        : String.format(Locale.ROOT, "%.2f ± %.2f [%.2f, %.2f]", m, Summary.std(v), m - h, m + h);
  }

  private static String ms(List<Double> v) {
    return v.isEmpty() ? "-" : String.format(Locale.ROOT, "%.2f ± %.2f", Summary.mean(v), Summary.std(v));
  }

  /** First epoch (1-based) whose error is at most {@code thr}, or -1. */
  static int firstBelow(List<Double> err, double thr) {
    for (int i = 0; i < err.size(); i++) {
      if (err.get(i) <= thr + 1e-12) {
        return i;
      }
    }
    return -1;
  }

  /** "epochs e (s seconds), k/n runs" for reaching accuracy {@code 1 - thr}. */
  private static String reach(List<List<Double>> errs, List<List<EpochResult>> curves, double thr) {
    List<Double> ep = new ArrayList<>();
    List<Double> sec = new ArrayList<>();
    for (int r = 0; r < errs.size(); r++) {
      int i = firstBelow(errs.get(r), thr);
      if (i >= 0) {
        ep.add(i + 1.0);
        sec.add(curves.get(r).get(i).seconds());
      }
    }
    if (ep.isEmpty()) {
      return "never (0/" + errs.size() + ")";
    }
    return String.format(Locale.ROOT, "%.1f ep, %.0f s (%d/%d)", Summary.mean(ep), Summary.mean(sec), ep.size(),
        errs.size());
  }

  /** Writes sweep.md, summary.md and the plots for the given architectures; returns summary.md's text. */
  static String write(Path out, List<String> archs, List<String> optimizers, int epochs, int seeds, String setup,
      String command) {
    StringBuilder sweepMd = new StringBuilder("# Learning-rate selection\n\nRule: ").append(RULE)
        .append(".\n\nSelection seed and reported seeds are disjoint (see summary.md). ").append(epochs)
        .append(" epochs per candidate.\n");
    StringBuilder sum = new StringBuilder("# Figure 2, fair protocol\n\n").append(setup).append("\n\nCommand:\n\n```\n")
        .append(command).append("\n```\n\nLearning-rate rule: ").append(RULE).append(".\n\n")
        .append("Errors in %; mean ± std over the reported seeds, then the 95% t interval of the mean in brackets. ")
        .append("Validation error uses the batch-norm running statistics (the paper's evaluation) unless marked ")
        .append("precise BN; test error is MNIST t10k, of the final model. Seconds are training steps only ")
        .append("(evaluation, test and precise-BN passes excluded), cumulative; the time to 97% / 97.5% is the ")
        .append("first epoch whose validation accuracy reaches it, averaged over the runs that reach it (k/n).\n");
    for (String arch : archs) {
      Map<String, List<List<EpochResult>>> curves = new LinkedHashMap<>();
      Map<String, List<List<EpochResult>>> preciseCurves = new LinkedHashMap<>();
      StringBuilder table = new StringBuilder("| optimizer | lr | seeds | final val | best val | final test "
          + "| final train | s/epoch (median) | to 97% | to 97.5% |\n|---|---|---|---|---|---|---|---|---|---|\n");
      StringBuilder ptable = new StringBuilder("| optimizer | final val, precise BN | best val, precise BN "
          + "| final test, precise BN | lag: running − precise val, epoch 1 / mean / final (points) "
          + "| to 97%, precise BN | to 97.5%, precise BN |\n|---|---|---|---|---|---|---|\n");
      boolean anyPrecise = false;
      StringBuilder notes = new StringBuilder();
      sweepMd.append("\n## ").append(arch.toUpperCase(Locale.ROOT)).append("\n\n")
          .append("| optimizer | lr | status | score (last-3 mean val %) | score with precise BN |\n|---|---|---|---|---|\n");
      StringBuilder perEpoch = new StringBuilder();
      for (String opt : optimizers) {
        Sweep sw = sweep(out, arch, opt, epochs);
        for (Candidate c : sw.candidates()) {
          sweepMd.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", opt, lrName(c.lr()),
              c.status() + (c == sw.chosen() ? ", **chosen**" : ""), pct(c.score()), pct(c.preciseScore())));
          perEpoch.append("| ").append(opt).append(" | ").append(lrName(c.lr())).append(" |");
          for (int i = 0; i < epochs; i++) {
            perEpoch.append(i < c.run().curve().size()
                ? String.format(Locale.ROOT, " %.2f", 100 * c.run().curve().get(i).valError()) : " -");
            double p = c.run().preciseVal(i);
            perEpoch.append(Double.isNaN(p) ? " |" : String.format(Locale.ROOT, " (%.2f) |", 100 * p));
          }
          perEpoch.append('\n');
        }
        String lrText;
        if (sw.chosen() == null) {
          lrText = "none (no complete selection run)";
          notes.append("- ").append(opt).append(": no complete selection run; nothing chosen.\n");
        } else {
          double lo = sw.candidates().get(0).lr();
          double hi = sw.candidates().get(sw.candidates().size() - 1).lr();
          lrText = lrName(sw.chosen().lr()) + (sw.edge() ? " **EDGE**" : "") + " (of " + lrName(lo) + ".."
              + lrName(hi) + ", " + sw.candidates().size() + " rates)";
          if (sw.edge()) {
            notes.append("- **EDGE**: ").append(opt).append("'s chosen rate ").append(lrName(sw.chosen().lr()))
                .append(" is on the edge of its grid even after the extensions.\n");
          }
          if (sw.preciseChoice() != null && sw.preciseChoice() != sw.chosen()) {
            notes.append("- ").append(opt).append(": selecting on precise-BN validation error would have chosen ")
                .append(lrName(sw.preciseChoice().lr())).append(" instead of ").append(lrName(sw.chosen().lr()))
                .append(".\n");
          }
        }
        Map<Integer, RunData> rep = reported(out, arch, opt, seeds);
        List<List<EpochResult>> runs = new ArrayList<>();
        List<List<EpochResult>> pruns = new ArrayList<>();
        List<Double> fin = new ArrayList<>();
        List<Double> best = new ArrayList<>();
        List<Double> test = new ArrayList<>();
        List<Double> train = new ArrayList<>();
        List<Double> spe = new ArrayList<>();
        List<Double> pfin = new ArrayList<>();
        List<Double> pbest = new ArrayList<>();
        List<Double> ptest = new ArrayList<>();
        List<Double> lag1 = new ArrayList<>();
        List<Double> lagMean = new ArrayList<>();
        List<Double> lagFinal = new ArrayList<>();
        List<List<Double>> errs = new ArrayList<>();
        List<List<Double>> perrs = new ArrayList<>();
        int incomplete = 0;
        for (Map.Entry<Integer, RunData> e : rep.entrySet()) {
          RunData r = e.getValue();
          if (!r.complete(epochs)) {
            incomplete++;
            notes.append("- ").append(opt).append(" seed ").append(e.getKey()).append(": ")
                .append(r.stopped() != null ? "stopped (" + r.stopped() + ")" : "incomplete, " + r.curve().size()
                    + " of " + epochs + " epochs; left out of the tables").append(".\n");
            continue;
          }
          List<EpochResult> c = r.curve().subList(0, epochs);
          runs.add(c);
          EpochResult last = c.get(epochs - 1);
          fin.add(100 * last.valError());
          train.add(100 * last.trainError());
          test.add(100 * r.test(epochs - 1));
          List<Double> ve = new ArrayList<>();
          List<Double> pe = new ArrayList<>();
          List<EpochResult> pc = new ArrayList<>();
          double lagSum = 0;
          for (int i = 0; i < epochs; i++) {
            ve.add(c.get(i).valError());
            double p = r.preciseVal(i);
            pe.add(p);
            EpochResult x = c.get(i);
            pc.add(new EpochResult(x.epoch(), x.trainLoss(), x.trainError(), Double.NaN, p, x.seconds()));
            lagSum += x.valError() - p;
          }
          errs.add(ve);
          best.add(100 * ve.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN));
          spe.addAll(Curves.secondsPerEpoch(c));
          if (!Double.isNaN(r.preciseVal(epochs - 1))) {
            anyPrecise = true;
            pruns.add(pc);
            perrs.add(pe);
            pfin.add(100 * pe.get(epochs - 1));
            pbest.add(100 * pe.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN));
            ptest.add(100 * r.preciseTest(epochs - 1));
            lag1.add(100 * (ve.get(0) - pe.get(0)));
            lagMean.add(100 * lagSum / epochs);
            lagFinal.add(100 * (ve.get(epochs - 1) - pe.get(epochs - 1)));
          }
        }
        String label = opt + (sw.chosen() == null ? "" : " lr=" + lrName(sw.chosen().lr()));
        curves.put(label, runs);
        table.append(String.format(Locale.ROOT, "| %s | %s | %d%s | %s | %s | %s | %s | %s | %s | %s |%n", opt, lrText,
            runs.size(), incomplete > 0 ? " (+" + incomplete + " incomplete)" : "", stat(fin), ms(best), stat(test),
            ms(train), spe.isEmpty() ? "-" : String.format(Locale.ROOT, "%.2f", Curves.median(spe)),
            reach(errs, runs, 0.03), reach(errs, runs, 0.025)));
        if (!pruns.isEmpty()) {
          preciseCurves.put(label, pruns);
          ptable.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.2f / %.2f / %.2f | %s | %s |%n", opt,
              stat(pfin), ms(pbest), stat(ptest), Summary.mean(lag1), Summary.mean(lagMean), Summary.mean(lagFinal),
              reach(perrs, pruns, 0.03), reach(perrs, pruns, 0.025)));
        }
      }
      sweepMd.append("\nValidation error % per epoch of every candidate (precise BN in parentheses):\n\n| optimizer | lr |");
      for (int i = 1; i <= epochs; i++) {
        sweepMd.append(' ').append(i).append(" |");
      }
      sweepMd.append("\n|---|---|").append("---|".repeat(epochs)).append('\n').append(perEpoch);
      String title = "MNIST " + arch.toUpperCase(Locale.ROOT) + ", " + epochs + " epochs, seeds 1.." + seeds;
      sum.append("\n## ").append(arch.toUpperCase(Locale.ROOT)).append("\n\n").append(table);
      if (anyPrecise) {
        sum.append("\nBatch-norm statistics recomputed over the training set before each evaluation (precise BN; "
            + "training itself uses the running statistics, decay 0.999, as the paper). The lag columns are the "
            + "running-statistics validation error minus the precise-BN one, in points, averaged over seeds:\n\n")
            .append(ptable);
      }
      if (notes.length() > 0) {
        sum.append("\nNotes:\n\n").append(notes);
      }
      sum.append('\n').append(perEpochTable("Validation error % per epoch (mean ± std over seeds; running "
          + "statistics) and cumulative training seconds (mean)", curves, epochs, false));
      if (anyPrecise) {
        sum.append('\n').append(perEpochTable("Validation error % per epoch with precise BN (mean ± std over seeds)",
            preciseCurves, epochs, true));
      }
      sum.append("\nPlots: `fig2-").append(arch).append(".png` (error against epoch), `fig2-").append(arch)
          .append("-seconds.png` (validation error against training seconds)")
          .append(anyPrecise ? ", `fig2-" + arch + "-precise-bn.png` (as the first, validation with precise BN)" : "")
          .append(".\n");
      if (curves.values().stream().anyMatch(l -> !l.isEmpty())) {
        CurvePlot.writeBands(out.resolve("fig2-" + arch + ".png"), title, curves);
        CurvePlot.writeVsSeconds(out.resolve("fig2-" + arch + "-seconds.png"), title + ", validation error", curves);
        if (anyPrecise) {
          CurvePlot.writeBands(out.resolve("fig2-" + arch + "-precise-bn.png"), title + ", validation with precise BN",
              preciseCurves);
        }
      }
    }
    AtomicFiles.writeString(out.resolve("sweep.md"), sweepMd.toString());
    AtomicFiles.writeString(out.resolve("summary.md"), sum.toString());
    return sum.toString();
  }

  private static String perEpochTable(String caption, Map<String, List<List<EpochResult>>> curves, int epochs,
      boolean precise) {
    StringBuilder sb = new StringBuilder(caption).append(":\n\n| epoch |");
    for (String k : curves.keySet()) {
      sb.append(' ').append(k).append(" |");
      if (!precise) {
        sb.append(" s |");
      }
    }
    sb.append("\n|---|").append((precise ? "---|" : "---|---|").repeat(curves.size())).append('\n');
    for (int ep = 0; ep < epochs; ep++) {
      sb.append("| ").append(ep + 1).append(" |");
      for (List<List<EpochResult>> runs : curves.values()) {
        List<Double> v = new ArrayList<>();
        List<Double> s = new ArrayList<>();
        for (List<EpochResult> r : runs) {
          if (ep < r.size()) {
            v.add(100 * r.get(ep).valError());
            s.add(r.get(ep).seconds());
          }
        }
        sb.append(v.isEmpty() ? " - |" : String.format(Locale.ROOT, " %.2f ± %.2f |", Summary.mean(v), Summary.std(v)));
        if (!precise) {
          sb.append(s.isEmpty() ? " - |" : String.format(Locale.ROOT, " %.0f |", Summary.mean(s)));
        }
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  private static String pct(double x) {
    return Double.isNaN(x) ? "-" : Double.isInfinite(x) ? "inf" : String.format(Locale.ROOT, "%.3f", 100 * x);
  }
}
