package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Runs the rfim and rank commands through picocli as the lead's Main will. */
class RfimCommandTest {
  private static final ObjectMapper M = new ObjectMapper();

  @TempDir
  Path dir;

  record Result(int code, String out, String err) {}

  static Result exec(Object command, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(command);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Result(code, out.toString(), err.toString());
  }

  static JsonNode vectors(String name) throws Exception {
    try (InputStream in = RfimCommandTest.class.getResourceAsStream("/vectors/" + name)) {
      return M.readTree(in);
    }
  }

  @Test
  void rfimRequestFileMatchesVector() throws Exception {
    JsonNode layers = vectors("layers.json");
    JsonNode c = layers.get("nonlinear").get(6); // elu alpha 0.7
    assertEquals("elu", c.get("activation").asText());
    ObjectNode req = M.createObjectNode();
    req.put("kind", "nonlinear");
    req.put("activation", "elu");
    req.set("params", c.get("params"));
    req.set("W", layers.get("W"));
    req.set("X", layers.get("X"));
    Path f = dir.resolve("req.json");
    Files.writeString(f, M.writerWithDefaultPrettyPrinter().writeValueAsString(req), StandardCharsets.UTF_8);

    Result r = exec(new RfimCommand(), "--request", f.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals("", r.err());
    JsonNode out = M.readTree(r.out());
    JsonNode exp = c.get("batch_mean");
    JsonNode got = out.get("metric");
    assertEquals(12, got.size());
    for (int i = 0; i < 12; i++) {
      for (int j = 0; j < 12; j++) {
        double e = exp.get(i).get(j).doubleValue();
        double g = got.get(i).get(j).doubleValue();
        assertTrue(Math.abs(g - e) <= 1e-12 + 1e-9 * Math.abs(e), "metric[" + i + "][" + j + "] " + g + " vs " + e);
      }
    }
    assertEquals(12, out.get("rank").intValue());
  }

  @Test
  void badRequestExitsTwoWithOneLine() throws Exception {
    Path f = dir.resolve("bad.json");
    Files.writeString(f, "{\"kind\":\"nonlinear\",\"activation\":\"gelu\",\"W\":[[1],[2]],\"X\":[[1]]}");
    Result r = exec(new RfimCommand(), "--request", f.toString());
    assertEquals(2, r.code());
    assertEquals("", r.out());
    assertTrue(r.err().startsWith("error: "), r.err());
    assertTrue(r.err().contains("'activation'") && r.err().contains("gelu"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertFalse(r.err().contains("Exception") || r.err().contains("\tat "), r.err());

    Files.writeString(f, "{\"kind\":\"nonlinear\",\"activation\":\"tanh\",\"W\":[[1],[2]],\"X\":[[NaN]]}");
    r = exec(new RfimCommand(), "--request", f.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("'X[0][0]'"), r.err());

    Files.writeString(f, "{\"kind\": ");
    r = exec(new RfimCommand(), "--request", f.toString());
    assertEquals(2, r.code());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }

  @Test
  void unreadableFileExitsTwo() {
    Result r = exec(new RfimCommand(), "--request", dir.resolve("nope.json").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("error: cannot read request file"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertFalse(r.err().contains("\tat "));
    assertFalse(r.err().contains("Exception") || r.err().contains("java."), r.err()); // no raw Java names
    assertTrue(r.err().contains("does not exist"), r.err());
  }

  @Test
  void rankCommandPrintsSectionFourTable() {
    Result r = exec(new RankCommand());
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().strip().split("\n");
    assertEquals(14, lines.length, r.out());
    // row n = 6: FIM 12, neuron 4, layer 8; row n = 12: FIM 14
    String[] six = lines[7].trim().split("\\s+");
    assertEquals("6", six[0]);
    assertEquals("12", six[1]);
    assertEquals("4", six[3]);
    assertEquals("8", six[5]);
    String[] twelve = lines[13].trim().split("\\s+");
    assertEquals("12", twelve[0]);
    assertEquals("14", twelve[1]);
  }

  @Test
  void helpWorks() {
    Result r = exec(new RfimCommand(), "--help");
    assertEquals(0, r.code());
    assertTrue(r.out().contains("--request"));
  }
}
