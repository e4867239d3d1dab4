package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.testutil.Synthetic;

class ReproduceCommandTest {
  @TempDir Path tmp;

  /** t_{0.975, df} against the CDF of Student's t integrated numerically from its density (Simpson's rule). */
  @Test
  void tQuantileMatchesTheIntegratedDensity() {
    for (int df : new int[] {1, 2, 4, 9, 29, 30, 31, 39, 100}) {
      double t = Fig2Report.t975(df);
      double c = Math.exp(lgamma((df + 1) / 2.0) - lgamma(df / 2.0)) / Math.sqrt(df * Math.PI);
      int n = 200_000;
      double h = t / n;
      double s = 0;
      for (int i = 0; i <= n; i++) {
        double x = i * h;
        double f = c * Math.pow(1 + x * x / df, -(df + 1) / 2.0);
        s += (i == 0 || i == n ? 1 : i % 2 == 1 ? 4 : 2) * f;
      }
      assertEquals(0.975, 0.5 + s * h / 3, 2e-5, "df " + df + ": t " + t);
    }
  }

  /** Lanczos log-gamma (g = 7, n = 9), for the density's constant. */
  private static double lgamma(double x) {
    double[] g = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
        -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7};
    x -= 1;
    double a = g[0];
    double t = x + 7.5;
    for (int i = 1; i < 9; i++) {
      a += g[i] / (x + i);
    }
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
  }

  @Test
  void gridExtensionKeepsTheOneThreeTenSpacing() {
    assertEquals(3e-5, ReproduceCommand.extend(1e-4, 3e-4, 1e-3), 0.0);
    assertEquals(0.03, ReproduceCommand.extend(1e-2, 3e-3, 1e-3), 0.0);
    assertEquals(1e-5, ReproduceCommand.extend(3e-5, 1e-4, 3e-4), 0.0);
    assertEquals(0.4, ReproduceCommand.extend(0.2, 0.1, Double.NaN), 1e-15);
  }

  /**
   * A tiny fig2 on synthetic data: the chosen rate is the argmin of the last-three-epoch mean validation
   * error recomputed here from the selection runs' curve.csv; a grid whose winner sits on its upper edge is
   * extended twice (3x steps) and then reported as EDGE; reported runs carry test and, in BNA, precise-BN
   * columns; --report rebuilds the same tables from the folders.
   */
  @Test
  void selectsOnTheLastThreeEpochsExtendsEdgesAndReports() throws IOException {
    Path data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_000 + 300, 100, 3);
    Path out = tmp.resolve("fig2");
    Synthetic.Run r = Synthetic.capture(() -> Main.execute("reproduce", "fig2", "--data-dir", data.toString(),
        "--device", "cpu", "--quiet", "--archs", "plain,bna", "--optimizers", "sgd,adam", "--epochs", "4", "--seeds",
        "2", "--hidden", "8", "--batch", "30", "--grid-sgd", "1e-5,3e-5,1e-4", "--grid-adam", "1e-3,0.01,0.1",
        "--out", out.toString()));
    assertEquals(0, r.exitCode(), r.err() + r.out());
    for (String arch : List.of("plain", "bna")) {
      for (String opt : List.of("sgd", "adam")) {
        TreeMap<Double, Double> scores = new TreeMap<>();
        try (Stream<Path> dirs = Files.list(out.resolve("sweep"))) {
          for (Path d : (Iterable<Path>) dirs::iterator) {
            String name = d.getFileName().toString();
            if (name.startsWith(arch + "-" + opt + "-lr")) {
              List<String> lines = Files.readAllLines(d.resolve("curve.csv"));
              assertEquals(5, lines.size(), d + ": " + lines);
              double s = 0;
              for (int i = 2; i <= 4; i++) {
                s += Double.parseDouble(lines.get(i).split(",")[4]) / 3;
              }
              scores.put(Double.parseDouble(name.substring((arch + "-" + opt + "-lr").length())), s);
            }
          }
        }
        // Replay the rule: start from the grid, extend while the winner is on an edge (at most twice).
        List<Double> grid = opt.equals("sgd") ? List.of(1e-5, 3e-5, 1e-4) : List.of(1e-3, 0.01, 0.1);
        TreeMap<Double, Double> seen = new TreeMap<>();
        grid.forEach(g -> seen.put(g, scores.get(g)));
        double best = Double.NaN;
        boolean edge = false;
        for (int ext = 0; ext <= 2; ext++) {
          double b = Double.NaN;
          for (var e : seen.entrySet()) {
            if (Double.isNaN(b) || e.getValue() < seen.get(b)) {
              b = e.getKey();
            }
          }
          best = b;
          edge = b == seen.firstKey() || b == seen.lastKey();
          if (!edge || ext == 2) {
            break;
          }
          double next = b == seen.firstKey() ? seen.firstKey() / (seen.higherKey(seen.firstKey()) / seen.firstKey())
              : seen.lastKey() * (seen.lastKey() / seen.lowerKey(seen.lastKey()));
          Double found = scores.keySet().stream().filter(k -> Math.abs(k / next - 1) < 0.25).findFirst().orElse(null);
          assertTrue(found != null, arch + " " + opt + ": no extension near " + next + " in " + scores.keySet());
          seen.put(found, scores.get(found));
        }
        assertEquals(seen.keySet(), scores.keySet(), arch + " " + opt + ": rates beyond the rule");
        if (opt.equals("sgd")) {
          assertTrue(scores.size() > 3, arch + ": the SGD grid was never extended: " + scores);
        }
        String md = Files.readString(out.resolve("summary.md"));
        int bna = md.indexOf("\n## BNA");
        String section = arch.equals("bna") ? md.substring(bna) : md.substring(0, bna);
        String row = tables(section).stream().filter(l -> l.startsWith("| " + opt + " | "))
            .filter(l -> l.contains("(of ")).findFirst().orElseThrow();
        assertEquals(edge, row.contains("**EDGE**"), row);
        for (int seed = 1; seed <= 2; seed++) {
          Path dir = out.resolve(arch + "-" + opt + "-seed" + seed);
          assertEquals(opt + " " + Fig2Report.lrName(best), Files.readString(dir.resolve("lr.txt")).strip());
          List<String> eval = Files.readAllLines(dir.resolve("eval.csv"));
          assertEquals(5, eval.size(), eval.toString());
          String[] last = eval.get(4).split(",", -1);
          double testErr = Double.parseDouble(last[2]);
          assertTrue(testErr >= 0 && testErr <= 1, eval.get(4));
          assertEquals(arch.equals("bna"), !last[4].isEmpty(), "precise-BN columns: " + eval.get(4));
        }
      }
      assertTrue(Files.size(out.resolve("fig2-" + arch + "-seconds.png")) > 1000);
    }
    assertTrue(Files.size(out.resolve("fig2-bna-precise-bn.png")) > 1000);
    String summary = Files.readString(out.resolve("summary.md"));
    assertTrue(summary.contains("to 97.5%"), summary);
    assertTrue(Files.readString(out.resolve("sweep.md")).contains("last three epochs"));
    Files.delete(out.resolve("summary.md"));
    Synthetic.Run rep = Synthetic.capture(() -> Main.execute("reproduce", "fig2", "--report", "--epochs", "4",
        "--seeds", "2", "--archs", "plain,bna", "--optimizers", "sgd,adam", "--hidden", "8", "--batch", "30",
        "--out", out.toString()));
    assertEquals(0, rep.exitCode(), rep.err());
    assertEquals(tables(summary), tables(Files.readString(out.resolve("summary.md"))));
  }

  private static List<String> tables(String md) {
    List<String> rows = new ArrayList<>();
    for (String line : md.split("\n")) {
      if (line.startsWith("| ")) {
        rows.add(line);
      }
    }
    return rows;
  }

  /** --selection-only trains the candidates and no reported run; --run-seeds names reported seeds only. */
  @Test
  void selectionOnlyAndRunSeeds() throws IOException {
    Path data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_000 + 300, 100, 3);
    Path out = tmp.resolve("sel");
    Synthetic.Run r = Synthetic.capture(() -> Main.execute("reproduce", "fig2", "--data-dir", data.toString(),
        "--device", "cpu", "--quiet", "--archs", "plain", "--optimizers", "adam", "--epochs", "2", "--hidden", "8",
        "--batch", "30", "--grid-adam", "1e-3,0.01,0.1", "--selection-only", "--out", out.toString()));
    assertEquals(0, r.exitCode(), r.err());
    for (String lr : List.of("0.001", "0.01", "0.1")) {
      assertTrue(Files.isRegularFile(out.resolve("sweep/plain-adam-lr" + lr + "/curve.csv")), lr);
    }
    try (Stream<Path> dirs = Files.list(out)) {
      assertTrue(dirs.noneMatch(p -> p.getFileName().toString().contains("seed")), "a reported run was trained");
    }
    Synthetic.Run bad = Synthetic.capture(() -> Main.execute("reproduce", "fig2", "--seeds", "5", "--run-seeds", "2,6",
        "--out", out.toString()));
    assertEquals(2, bad.exitCode(), bad.err());
    assertTrue(bad.err().contains("--run-seeds 6 is not a reported seed (1..5)"), bad.err());
  }

  @Test
  void refusesAReportedSeedForSelection() {
    Synthetic.Run r = Synthetic.capture(() -> Main.execute("reproduce", "fig2", "--selection-seed", "2", "--seeds",
        "5", "--out", tmp.resolve("x").toString()));
    assertEquals(2, r.exitCode(), r.err());
    assertTrue(r.err().contains("--selection-seed 2 is one of the reported seeds"), r.err());
  }
}
