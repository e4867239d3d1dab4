package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.testutil.Synthetic;
import org.rfim4j.train.Checkpoint;

/**
 * Issue 16, finding 5: the checkpoint is written before the curves, stale temporary files of an interrupted
 * run are removed when the next run starts in the same directory, and a resume cuts a curve that is ahead of
 * the checkpoint back to it, saying so.
 */
class OutputConsistencyTest {
  @TempDir Path tmp;
  Path data;
  Path out;

  @BeforeEach
  void data() throws IOException {
    data = Synthetic.writeIdx(tmp.resolve("data"), "mnist", 10_060, 20, 3).getParent();
    out = tmp.resolve("out");
  }

  String[] train(int epochs, String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--data-dir", data.toString(), "--device", "cpu", "--quiet",
        "--train-size", "60", "--hidden", "8", "--batch", "20", "--optimizer", "sgd", "--epochs",
        Integer.toString(epochs), "--out", out.toString()));
    a.addAll(List.of(extra));
    return a.toArray(String[]::new);
  }

  static Synthetic.Run cli(String... args) {
    return Synthetic.capture(() -> Main.execute(args));
  }

  @Test
  void theCheckpointIsWrittenBeforeTheCurves() throws IOException {
    // The checkpoint cannot be written (a directory stands in its place): the curves must not gain the epoch.
    Files.createDirectories(out.resolve("checkpoint.rfim4j").resolve("blocker"));
    Synthetic.Run r = cli(train(2));
    assertEquals(Main.USAGE, r.exitCode(), r.err());
    assertTrue(r.err().contains("checkpoint"), r.err());
    List<String> csv = Files.readAllLines(out.resolve("curve.csv"));
    assertEquals(1, csv.size(), "no epoch in curve.csv without its checkpoint: " + csv);
    JsonNode json = new ObjectMapper().readTree(out.resolve("curve.json").toFile());
    assertEquals(0, json.get("curve").size(), json.toString());
  }

  @Test
  void staleTemporaryFilesAreRemovedAtStart() throws IOException {
    Files.createDirectories(out);
    List<Path> stale = List.of(out.resolve(".checkpoint.rfim4j8413371234.tmp"),
        out.resolve(".checkpoint.rfim4j.k3j2h1.tmp"), out.resolve(".curve.csv5551.tmp"),
        out.resolve(".curve.json.zz9.tmp"));
    for (Path p : stale) {
      Files.write(p, new byte[] {1, 2, 3});
    }
    Path unrelated = Files.write(out.resolve(".notes.tmp"), new byte[] {1});
    Synthetic.Run r = cli(train(1));
    assertEquals(0, r.exitCode(), r.err());
    for (Path p : stale) {
      assertFalse(Files.exists(p), p + " survived the next start");
    }
    assertTrue(Files.exists(unrelated), "only the run's own temporary files are removed");
    assertTrue(r.err().contains("removed 4 temporary files"), r.err());
    try (Stream<Path> files = Files.list(out)) {
      assertEquals(List.of(".notes.tmp", "checkpoint.rfim4j", "curve.csv", "curve.json"),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  @Test
  void aCurveAheadOfTheCheckpointIsCutBackOnResume() throws IOException {
    Synthetic.Run first = cli(train(1));
    assertEquals(0, first.exitCode(), first.err());
    // As a kill between the curve and the checkpoint left it (before the checkpoint came first): epoch 2 in
    // the curves, the checkpoint at epoch 1.
    List<String> csv = new ArrayList<>(Files.readAllLines(out.resolve("curve.csv")));
    csv.add("2,0.5,0.1,0.5,0.1,0.01");
    Files.write(out.resolve("curve.csv"), csv);
    Path ck = out.resolve("checkpoint.rfim4j");
    Synthetic.Run resumed = cli("train", "--resume", ck.toString(), "--epochs", "3", "--out", out.toString(),
        "--device", "cpu", "--quiet", "--data-dir", data.toString());
    assertEquals(0, resumed.exitCode(), resumed.err());
    assertTrue(resumed.err().contains("curve.csv") && resumed.err().contains("cut back to epoch 1"), resumed.err());
    List<String> after = Files.readAllLines(out.resolve("curve.csv"));
    assertEquals(4, after.size(), after.toString());
    for (int e = 1; e <= 3; e++) {
      assertTrue(after.get(e).startsWith(e + ","), after.toString());
    }
    assertFalse(after.contains("2,0.5,0.1,0.5,0.1,0.01"), after.toString());
    assertEquals(Checkpoint.load(ck).header().curve().get(0).toCsv(), after.get(1));
  }

  @Test
  void curveJsonKeepsTheEpochsBeforeAResume() throws IOException {
    assertEquals(0, cli(train(1)).exitCode());
    Path ck = out.resolve("checkpoint.rfim4j");
    Synthetic.Run resumed = cli("train", "--resume", ck.toString(), "--epochs", "2", "--out", out.toString(),
        "--device", "cpu", "--quiet", "--data-dir", data.toString());
    assertEquals(0, resumed.exitCode(), resumed.err());
    JsonNode json = new ObjectMapper().readTree(out.resolve("curve.json").toFile());
    assertEquals(2, json.get("curve").size(), json.toString());
    assertEquals(1, json.get("curve").get(0).get("epoch").asInt());
  }
}
