package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.testutil.Synthetic;
import org.rfim4j.train.Checkpoint;

/**
 * Issue 16, finding 1 through the command line: {@code train --optimizer sgd --lr 1e30} diverges; the
 * checkpoint and the curve keep the last good epoch, the message says which, and the kept checkpoint resumes.
 */
class DivergedRunTest {
  @TempDir Path tmp;

  @Test
  void divergedRunKeepsTheLastGoodCheckpointAndCurve() throws IOException {
    Path data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_100, 20, 4);
    Path out = tmp.resolve("out");
    String line = BadInputTest.expectOneLineError("train", "--data-dir", data.toString(), "--device", "cpu",
        "--quiet", "--train-size", "100", "--hidden", "8", "--optimizer", "sgd", "--lr", "1e30", "--epochs", "6",
        "--out", out.toString(), "--precision", "64");  // float64's range lets lr 1e30 survive the first epoch
    assertTrue(line.contains("diverged"), line);
    Checkpoint.Loaded ck = Checkpoint.load(out.resolve("checkpoint.rfim4j"));
    int kept = ck.header().epochsCompleted();
    assertTrue(kept >= 1, "the run diverges after a good epoch: " + line);
    assertTrue(line.contains("kept epoch " + kept), line);
    assertTrue(line.contains(out.resolve("checkpoint.rfim4j").toString()), line);
    for (double[] a : ck.arrays().values()) {
      assertTrue(Arrays.stream(a).allMatch(Double::isFinite), "the kept checkpoint is finite");
    }
    List<String> csv = Files.readAllLines(out.resolve("curve.csv"));
    assertEquals(1 + kept, csv.size(), csv.toString());
    assertFalse(String.join("\n", csv).contains("NaN") || String.join("\n", csv).contains("Infinity"), csv.toString());
    com.fasterxml.jackson.databind.JsonNode json = new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(out.resolve("curve.json").toFile());
    assertEquals(kept, json.get("curve").size(), json.toString());
    assertTrue(json.get("stopped").asText().contains("kept epoch " + kept), json.toString());
  }
}
