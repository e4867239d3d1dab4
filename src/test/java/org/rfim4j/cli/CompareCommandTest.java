package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.train.EpochResult;
import org.rfim4j.testutil.Synthetic;

class CompareCommandTest {
  static final byte[] PNG_MAGIC = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

  @TempDir Path tmp;

  @Test
  void compareWritesSummaryPlotAndCurves() throws IOException {
    Path data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_000 + 200, 50, 3);
    Path out = tmp.resolve("cmp");
    Synthetic.Run r = Synthetic.capture(() -> Main.execute("compare", "--data-dir", data.toString(), "--device", "cpu",
        "--quiet", "--optimizers", "sgd,adam,rngd", "--epochs", "2", "--seeds", "1,2", "--hidden", "8,8", "--batch",
        "10", "--rngd-T", "5", "--out", out.toString()));
    assertEquals(0, r.exitCode(), r.err());

    String summary = Files.readString(out.resolve("summary.md"));
    for (String label : List.of("sgd", "adam", "rngd")) {
      assertTrue(summary.contains(label), label + " missing from summary.md:\n" + summary);
    }
    byte[] png = Files.readAllBytes(out.resolve("curves.png"));
    assertTrue(png.length > 1000, "png of " + png.length + " bytes");
    assertArrayEquals(PNG_MAGIC, Arrays.copyOf(png, 8));

    for (String opt : List.of("sgd", "adam", "rngd")) {
      for (int seed : new int[] {1, 2}) {
        Path csv = out.resolve(opt + "-seed" + seed).resolve("curve.csv");
        assertTrue(Files.isRegularFile(csv), csv + " missing");
        List<String> lines = Files.readAllLines(csv);
        assertEquals(EpochResult.CSV_HEADER, lines.get(0));
        assertEquals(3, lines.size(), csv + ": " + lines);
        assertTrue(Files.isRegularFile(csv.resolveSibling("checkpoint.rfim4j")));
      }
    }
    try (Stream<Path> all = Files.walk(out)) {
      assertTrue(all.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "temporary files left");
    }
    // Different seeds give different runs.
    assertTrue(!Files.readAllLines(out.resolve("adam-seed1/curve.csv")).get(1).split(",")[1]
        .equals(Files.readAllLines(out.resolve("adam-seed2/curve.csv")).get(1).split(",")[1]));
    assertTrue(r.out().contains("summary.md"), r.out());
  }
}
