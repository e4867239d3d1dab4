package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rfim4j.rfim.Vectors.close;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

/** JSON requests: results against the vectors, and malformed requests naming the field. */
class RfimRequestTest {
  private static final ObjectMapper M = new ObjectMapper();
  private static final JsonNode LAYERS = Vectors.load("layers.json");
  private static final JsonNode NEURON = Vectors.load("single_neuron.json");
  private static final JsonNode TWO = Vectors.load("two_layer.json");

  static ObjectNode nonlinearRequest() {
    JsonNode c = LAYERS.get("nonlinear").get(3); // prelu_smooth {iota 0.25, omega 1}
    ObjectNode r = M.createObjectNode();
    r.put("kind", "nonlinear");
    r.set("activation", c.get("activation"));
    r.set("params", c.get("params"));
    r.set("W", LAYERS.get("W"));
    r.set("X", LAYERS.get("X"));
    return r;
  }

  private static JsonNode run(ObjectNode req) throws Exception {
    return M.readTree(RfimRequest.parse(M.writeValueAsString(req)).computeJson());
  }

  @Test
  void nonlinearBatchMeanMatchesVector() throws Exception {
    JsonNode out = run(nonlinearRequest());
    assertEquals("prelu_smooth", LAYERS.get("nonlinear").get(3).get("activation").asText());
    close("metric", Vectors.mat(out.get("metric")), LAYERS.get("nonlinear").get(3).get("batch_mean"));
    assertEquals(12, out.get("rank").intValue());
  }

  @Test
  void activationAsObjectForm() throws Exception {
    ObjectNode req = nonlinearRequest();
    ObjectNode act = M.createObjectNode();
    act.set("name", req.get("activation"));
    act.set("params", req.remove("params"));
    req.set("activation", act);
    close("metric", Vectors.mat(run(req).get("metric")), LAYERS.get("nonlinear").get(3).get("batch_mean"));
  }

  @Test
  void neuronLinearSoftmaxTwoLayer() throws Exception {
    JsonNode c = NEURON.get("cases").get(17); // elu alpha 1 batch_mean
    assertEquals("batch_mean", c.get("case").asText());
    ObjectNode r = M.createObjectNode();
    r.put("kind", "neuron");
    r.set("activation", c.get("activation"));
    r.set("params", c.get("params"));
    r.set("w", c.get("w"));
    r.set("X", c.get("X"));
    JsonNode out = run(r);
    close("neuron", Vectors.mat(out.get("metric")), c.get("G"));
    assertEquals(4, out.get("rank").intValue());

    r = M.createObjectNode();
    r.put("kind", "linear");
    r.put("sigma", LAYERS.get("linear").get("sigma").doubleValue());
    r.set("W", LAYERS.get("W"));
    r.set("X", M.createArrayNode().add(LAYERS.get("x")));
    close("linear", Vectors.mat(run(r).get("metric")), LAYERS.get("linear").get("G"));

    r = M.createObjectNode();
    r.put("kind", "softmax");
    r.set("W", LAYERS.get("softmax").get("W"));
    r.set("X", LAYERS.get("X"));
    out = run(r);
    close("softmax", Vectors.mat(out.get("metric")), LAYERS.get("softmax").get("batch_mean"));
    assertEquals(12, out.get("rank").intValue());

    for (String variant : new String[] {"corrected", "as_printed"}) {
      JsonNode tc = TWO.get("cases").get(3); // elu -> elu
      r = M.createObjectNode();
      r.put("kind", "two-layer");
      r.set("activation", tc.get("hidden"));
      r.set("params", tc.get("hidden_params"));
      r.set("output", tc.get("output"));
      r.set("output_params", tc.get("output_params"));
      r.put("variant", variant);
      r.set("W", TWO.get("W"));
      r.set("C", TWO.get("C"));
      r.set("X", M.createArrayNode().add(TWO.get("x")));
      out = run(r);
      close("two-layer " + variant, Vectors.mat(out.get("metric")),
          tc.get(variant.equals("corrected") ? "G_correct" : "G_as_printed"));
      assertEquals(2, out.get("rank").intValue(), "rank <= D_y per sample");
    }
  }

  private static RfimRequestException bad(String json, String field) {
    RfimRequestException e = assertThrows(RfimRequestException.class, () -> RfimRequest.parse(json));
    assertEquals(field, e.field(), e.getMessage());
    assertTrue(e.getMessage().contains("'" + field + "'"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    return e;
  }

  private static String with(String field, String rawJson) throws Exception {
    String base = M.writeValueAsString(nonlinearRequest());
    ObjectNode n = (ObjectNode) M.readTree(base);
    n.remove(field);
    String s = M.writeValueAsString(n);
    return rawJson == null ? s : s.substring(0, s.length() - 1) + ",\"" + field + "\":" + rawJson + "}";
  }

  @Test
  void wrongShapes() throws Exception {
    // W with 3 rows while X has 3 columns (needs D+1 = 4)
    bad(with("W", "[[1,2,3],[4,5,6],[7,8,9]]"), "W");
    bad(with("X", "[[1,2],[3,4]]"), "W"); // X has 2 columns -> W must have 3 rows
    bad("{\"kind\":\"neuron\",\"activation\":\"tanh\",\"w\":[1,2,3],\"X\":[[1,2,3]]}", "w");
    bad("{\"kind\":\"two-layer\",\"activation\":\"tanh\",\"output\":\"identity\",\"W\":[[1,2],[3,4]],"
        + "\"C\":[[1],[2]],\"X\":[[1]]}", "C");
    bad(with("X", "[[1,2,3],[4,5]]"), "X"); // ragged
    bad(with("X", "[]"), "X");
    bad(with("X", "[1,2,3]"), "X[0]"); // a row that is a number
  }

  @Test
  void unknownNames() throws Exception {
    RfimRequestException e = bad(with("activation", "\"swish\""), "activation");
    assertTrue(e.getMessage().contains("swish"));
    bad(with("kind", "\"conv\""), "kind");
    bad(with("bogus", "1"), "bogus");
    bad("{\"kind\":\"two-layer\",\"activation\":\"tanh\",\"output\":\"softsign\",\"W\":[[1],[2]],"
        + "\"C\":[[1],[2]],\"X\":[[1]]}", "output");
    bad("{\"kind\":\"two-layer\",\"activation\":\"identity\",\"output\":\"identity\",\"W\":[[1],[2]],"
        + "\"C\":[[1],[2]],\"X\":[[1]]}", "activation");
  }

  @Test
  void nonFiniteValues() throws Exception {
    RfimRequestException e = bad(with("X", "[[1,2,3],[4,NaN,6]]"), "X[1][1]");
    assertTrue(e.getMessage().contains("finite"), e.getMessage());
    bad(with("W", "[[1,2,3],[4,5,6],[7,8,9],[1,Infinity,1]]"), "W[3][1]");
    bad(with("params", "{\"iota\":0.25,\"omega\":NaN}"), "params.omega");
    bad("{\"kind\":\"linear\",\"sigma\":-Infinity,\"W\":[[1],[2]],\"X\":[[1]]}", "sigma");
    bad(with("X", "[[1,\"2\",3]]"), "X[0][1]");
  }

  @Test
  void missingFields() throws Exception {
    bad(with("X", null), "X");
    bad(with("W", null), "W");
    bad(with("activation", null), "activation");
    bad(with("kind", null), "kind");
    bad(with("params", null), "params"); // prelu_smooth needs iota and omega
    bad("{\"kind\":\"two-layer\",\"activation\":\"tanh\",\"output\":\"identity\",\"W\":[[1],[2]],\"X\":[[1]]}", "C");
    bad("{\"kind\":\"two-layer\",\"activation\":\"tanh\",\"W\":[[1],[2]],\"C\":[[1],[2]],\"X\":[[1]]}", "output");
    bad("{\"kind\":\"neuron\",\"activation\":\"elu\",\"w\":[1,2],\"X\":[[1]]}", "params");
    bad("not json", "request");
    bad("[1,2]", "request");
  }

  @Test
  void sigmaDefaultsToOne() {
    String j = "{\"kind\":\"linear\",\"W\":[[1,0],[2,0]],\"X\":[[3]]}";
    double[][] g = RfimRequest.parse(j).metric();
    assertEquals(9.0, g[0][0], 0);
    assertEquals(3.0, g[2][3], 0);
    assertEquals(0.0, g[0][2], 0);
  }
}
