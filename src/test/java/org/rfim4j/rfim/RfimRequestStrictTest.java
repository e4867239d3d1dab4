package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 16, finding 7: nothing after the JSON object, no non-finite result, a stated size limit, and messages in
 * words (no Java class or exception names).
 */
class RfimRequestStrictTest {
  static final String GOOD = "{\"kind\":\"neuron\",\"activation\":\"tanh\",\"w\":[0.5,-1,0.25],\"X\":[[1,2],[3,-1]]}";

  static RfimRequestException bad(String json) {
    RfimRequestException e = assertThrows(RfimRequestException.class, () -> RfimRequest.parse(json).computeJson(),
        json.length() > 200 ? json.substring(0, 200) + "..." : json);
    assertWords(e.getMessage(), json);
    return e;
  }

  static void assertWords(String msg) {
    assertWords(msg, "");
  }

  /** One line, and no Java class or exception names unless the request itself holds them (messages quote it). */
  static void assertWords(String msg, String request) {
    assertEquals(1, msg.lines().count(), msg);
    for (String raw : new String[] {"Exception", "java.", "com.fasterxml", "org.rfim4j", "`", "JsonToken",
        "Cannot deserialize", "START_", "VALUE_", "class "}) {
      assertFalse(msg.contains(raw) && !request.contains(raw), "'" + raw + "' in: " + msg);
    }
  }

  @Test
  void theGoodRequestComputes() {
    assertTrue(RfimRequest.parse(GOOD).computeJson().contains("\"rank\":"));
  }

  @ParameterizedTest
  @ValueSource(strings = {" junk", "{}", "]", " 1", ",", "{\"kind\":\"neuron\"}", " /* c */"})
  void trailingTextAfterTheObjectIsRefused(String tail) {
    RfimRequestException e = bad(GOOD + tail);
    assertEquals("request", e.field());
    assertTrue(e.getMessage().contains("after the JSON object") || e.getMessage().contains("not valid JSON"),
        e.getMessage());
  }

  @Test
  void trailingWhitespaceIsFine() {
    assertTrue(RfimRequest.parse(GOOD + " \n\t\n").computeJson().contains("metric"));
  }

  @Test
  void anOverflowingResultIsRefusedNamingTheEntry() {
    // x x^T overflows: 1e200 squared.
    RfimRequestException e = bad("{\"kind\":\"linear\",\"W\":[[1],[1]],\"X\":[[1e200]]}");
    assertTrue(e.field().startsWith("metric["), e.getMessage());
    assertTrue(e.getMessage().toLowerCase(Locale.ROOT).contains("finite"), e.getMessage());
  }

  @Test
  void aRequestBeyondTheSizeLimitIsRefusedAtOnce() {
    int limit = 1024; // RfimRequest.MAX_DIMENSION
    // nonlinear layer with D = 99 inputs and m = 20 units: a 2000 x 2000 metric.
    StringBuilder w = new StringBuilder("[");
    for (int r = 0; r < 100; r++) {
      w.append(r == 0 ? "" : ",").append("[");
      for (int c = 0; c < 20; c++) {
        w.append(c == 0 ? "" : ",").append((r * 7 + c) % 5 * 0.1);
      }
      w.append("]");
    }
    w.append("]");
    StringBuilder x = new StringBuilder("[[");
    for (int c = 0; c < 99; c++) {
      x.append(c == 0 ? "" : ",").append(c % 3);
    }
    x.append("]]");
    String req = "{\"kind\":\"nonlinear\",\"activation\":\"tanh\",\"W\":" + w + ",\"X\":" + x + "}";
    RfimRequestException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> bad(req));
    assertTrue(e.getMessage().contains("2000 x 2000") && e.getMessage().contains(
        limit + " x " + limit), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "{\"kind\":5,\"W\":[[1]],\"X\":[[1]]}",
      "{\"kind\":\"linear\",\"W\":[[1],[2]],\"X\":[[true]]}",
      "{\"kind\":\"linear\",\"W\":[[1],[2]],\"X\":[[null]]}",
      "{\"kind\":\"linear\",\"W\":[[1],[2]],\"X\":[null]}",
      "{\"kind\":\"linear\",\"W\":{\"a\":1},\"X\":[[1]]}",
      "{\"kind\":\"linear\",\"sigma\":\"big\",\"W\":[[1],[2]],\"X\":[[1]]}",
      "{\"kind\":\"neuron\",\"activation\":[1],\"w\":[1,2],\"X\":[[1]]}",
      "{\"kind\":\"neuron\",\"activation\":{\"name\":\"tanh\",\"bogus\":1},\"w\":[1,2],\"X\":[[1]]}",
      "{\"kind\":\"neuron\",\"activation\":\"prelu_smooth\",\"params\":{\"iota\":\"x\"},\"w\":[1,2],\"X\":[[1]]}",
      "{\"kind\":\"linear\",\"kind\":\"linear\",\"W\":[[1],[2]],\"X\":[[1]]}",
      "{\"kind\":\"linear\",\"W\":[[1],[2]],\"X\":[[1e99999]]}",
      "{\"kind\":\"linear\",\"W\":[[1],[2]],\"X\":[[1]]",
      "{\"kind\":\"linear\",\"W\":[[1],[2]],\"X\":[[0.1e-]]}",
      "\"a string\"",
      "",
      "null"})
  void malformedRequestsAreWorded(String json) {
    bad(json);
  }

  @Test
  void deepNestingAndHugeNumbersAreWorded() {
    bad("{\"kind\":\"linear\",\"W\":" + "[".repeat(1500) + "]".repeat(1500) + ",\"X\":[[1]]}");
    bad("{\"kind\":\"linear\",\"W\":[[1],[2]],\"X\":[[1" + "0".repeat(2000) + "]]}");
  }
}
