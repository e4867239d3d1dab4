package org.rfim4j.rfim;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A JSON request for a closed-form RFIM, as used by the {@code rfim} CLI command.
 *
 * <pre>
 * {
 *   "kind": "neuron" | "linear" | "nonlinear" | "softmax" | "two-layer",
 *   "activation": "prelu_smooth",          // neuron, nonlinear, two-layer (hidden family);
 *   "params": {"iota": 0.25, "omega": 1},  //   or "activation": {"name": ..., "params": {...}}
 *   "output": "identity", "output_params": {},   // two-layer only
 *   "variant": "corrected" | "as_printed",       // two-layer only, default corrected
 *   "sigma": 0.7,                                 // linear only, default 1
 *   "w": [D+1],                                   // neuron
 *   "W": [[...m...] x (D+1)],                     // all other kinds, bias last row
 *   "C": [[...Dy...] x (Dh+1)],                   // two-layer
 *   "X": [[...D...] x n]                          // inputs; the metric is the mean over rows
 * }
 * </pre>
 *
 * The result is {@code {"metric": [[...]], "rank": r}}, the rank with relative tolerance 1e-10. Every
 * malformed request raises {@link RfimRequestException} naming the field.
 */
public final class RfimRequest {
  /** Request kinds. */
  public enum Kind {
    NEURON("neuron"), LINEAR("linear"), NONLINEAR("nonlinear"), SOFTMAX("softmax"), TWO_LAYER("two-layer");

    final String wire;

    Kind(String wire) {
      this.wire = wire;
    }

    /** Name as written in the request. */
    public String wireName() {
      return wire;
    }
  }

  private static final Map<Kind, Set<String>> FIELDS = Map.of(
      Kind.NEURON, Set.of("kind", "activation", "params", "w", "X"),
      Kind.LINEAR, Set.of("kind", "sigma", "W", "X"),
      Kind.NONLINEAR, Set.of("kind", "activation", "params", "W", "X"),
      Kind.SOFTMAX, Set.of("kind", "W", "X"),
      Kind.TWO_LAYER, Set.of("kind", "activation", "params", "output", "output_params", "variant", "W", "C", "X"));

  private static final ObjectMapper MAPPER = new ObjectMapper()
      .enable(JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS);

  private final Kind kind;
  private final NeuronFamily activation;
  private final NeuronFamily output;
  private final TwoLayerVariant variant;
  private final double sigma;
  private final double[] w;
  private final double[][] bigW;
  private final double[][] c;
  private final double[][] x;

  private RfimRequest(Kind kind, NeuronFamily activation, NeuronFamily output, TwoLayerVariant variant,
      double sigma, double[] w, double[][] bigW, double[][] c, double[][] x) {
    this.kind = kind;
    this.activation = activation;
    this.output = output;
    this.variant = variant;
    this.sigma = sigma;
    this.w = w;
    this.bigW = bigW;
    this.c = c;
    this.x = x;
  }

  /** Parses JSON text. */
  public static RfimRequest parse(String json) {
    JsonNode root;
    try {
      root = MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      String msg = e.getOriginalMessage() == null ? "parse error" : e.getOriginalMessage().replaceAll("\\s+", " ");
      throw new RfimRequestException("request", "not valid JSON: " + msg);
    }
    return parse(root);
  }

  /** Validates a Jackson tree. */
  public static RfimRequest parse(JsonNode root) {
    if (root == null || !root.isObject()) {
      throw new RfimRequestException("request", "must be a JSON object");
    }
    JsonNode kn = root.get("kind");
    if (kn == null || kn.isNull()) {
      throw new RfimRequestException("kind", "missing (expected neuron, linear, nonlinear, softmax or two-layer)");
    }
    if (!kn.isTextual()) {
      throw new RfimRequestException("kind", "must be a string");
    }
    Kind kind = null;
    for (Kind k : Kind.values()) {
      if (k.wire.equals(kn.asText())) {
        kind = k;
      }
    }
    if (kind == null) {
      throw new RfimRequestException("kind",
          "unknown kind '" + kn.asText() + "' (expected neuron, linear, nonlinear, softmax or two-layer)");
    }
    Iterator<String> names = root.fieldNames();
    while (names.hasNext()) {
      String f = names.next();
      if (!FIELDS.get(kind).contains(f)) {
        throw new RfimRequestException(f, "not a field of kind '" + kind.wire + "'");
      }
    }

    double[][] xs = matrix(root, "X");
    int d = xs[0].length;
    NeuronFamily act = null;
    NeuronFamily out = null;
    TwoLayerVariant variant = TwoLayerVariant.CORRECTED;
    double sigma = 1.0;
    double[] wv = null;
    double[][] wm = null;
    double[][] cm = null;
    switch (kind) {
      case NEURON:
        act = family(root, "activation", "params");
        wv = vector(root, "w");
        if (wv.length != d + 1) {
          throw new RfimRequestException("w", "has length " + wv.length + ", expected D+1 = " + (d + 1)
              + " (X has " + d + " columns)");
        }
        break;
      case LINEAR:
        if (root.has("sigma")) {
          sigma = number(root.get("sigma"), "sigma");
          if (!(sigma > 0)) {
            throw new RfimRequestException("sigma", "must be > 0, got " + sigma);
          }
        }
        wm = layerWeights(root, d);
        break;
      case NONLINEAR:
        act = family(root, "activation", "params");
        wm = layerWeights(root, d);
        break;
      case SOFTMAX:
        wm = layerWeights(root, d);
        if (wm[0].length < 2) {
          throw new RfimRequestException("W", "softmax needs at least 2 columns (classes), got " + wm[0].length);
        }
        break;
      case TWO_LAYER:
        act = family(root, "activation", "params");
        if (act.isOutputOnly()) {
          throw new RfimRequestException("activation", "'" + act.name() + "' is an output-only family, not a hidden unit");
        }
        out = family(root, "output", "output_params");
        if (root.has("variant")) {
          JsonNode vn = root.get("variant");
          String v = vn.isTextual() ? vn.asText() : "";
          if (v.equals("corrected")) {
            variant = TwoLayerVariant.CORRECTED;
          } else if (v.equals("as_printed")) {
            variant = TwoLayerVariant.AS_PRINTED;
          } else {
            throw new RfimRequestException("variant", "must be \"corrected\" or \"as_printed\"");
          }
        }
        wm = layerWeights(root, d);
        cm = matrix(root, "C");
        if (cm.length != wm[0].length + 1) {
          throw new RfimRequestException("C", "has " + cm.length + " rows, expected Dh+1 = " + (wm[0].length + 1)
              + " (W has " + wm[0].length + " columns)");
        }
        break;
      default:
        throw new AssertionError(kind);
    }
    return new RfimRequest(kind, act, out, variant, sigma, wv, wm, cm, xs);
  }

  private static double[][] layerWeights(JsonNode root, int d) {
    double[][] wm = matrix(root, "W");
    if (wm.length != d + 1) {
      throw new RfimRequestException("W", "has " + wm.length + " rows, expected D+1 = " + (d + 1)
          + " (X has " + d + " columns; bias is the last row)");
    }
    return wm;
  }

  private static NeuronFamily family(JsonNode root, String field, String paramsField) {
    JsonNode an = root.get(field);
    if (an == null || an.isNull()) {
      throw new RfimRequestException(field, "missing");
    }
    String name;
    JsonNode pn = root.get(paramsField);
    String pField = paramsField;
    if (an.isTextual()) {
      name = an.asText();
    } else if (an.isObject()) {
      JsonNode nn = an.get("name");
      if (nn == null || !nn.isTextual()) {
        throw new RfimRequestException(field + ".name", "missing or not a string");
      }
      name = nn.asText();
      if (an.has("params")) {
        if (pn != null) {
          throw new RfimRequestException(paramsField, "given both here and in " + field + ".params");
        }
        pn = an.get("params");
        pField = field + ".params";
      }
    } else {
      throw new RfimRequestException(field, "must be a family name or {\"name\": ..., \"params\": {...}}");
    }
    Map<String, Double> params = new LinkedHashMap<>();
    if (pn != null && !pn.isNull()) {
      if (!pn.isObject()) {
        throw new RfimRequestException(pField, "must be an object");
      }
      Iterator<Map.Entry<String, JsonNode>> it = pn.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        params.put(e.getKey(), number(e.getValue(), pField + "." + e.getKey()));
      }
    }
    if (!NeuronFamily.names().contains(name)) {
      throw new RfimRequestException(field,
          "unknown activation '" + name + "' (expected one of " + String.join(", ", NeuronFamily.names()) + ")");
    }
    try {
      return NeuronFamily.of(name, params);
    } catch (IllegalArgumentException e) {
      throw new RfimRequestException(pField, e.getMessage());
    }
  }

  private static double number(JsonNode n, String field) {
    if (n == null || n.isNull()) {
      throw new RfimRequestException(field, "missing");
    }
    if (!n.isNumber()) {
      throw new RfimRequestException(field, "must be a number, got " + n.getNodeType().toString().toLowerCase(Locale.ROOT));
    }
    double v = n.doubleValue();
    if (!Double.isFinite(v)) {
      throw new RfimRequestException(field, "must be finite, got " + v);
    }
    return v;
  }

  private static double[] vector(JsonNode root, String field) {
    JsonNode n = root.get(field);
    if (n == null || n.isNull()) {
      throw new RfimRequestException(field, "missing");
    }
    return vectorOf(n, field);
  }

  private static double[] vectorOf(JsonNode n, String field) {
    if (!n.isArray()) {
      throw new RfimRequestException(field, "must be an array of numbers");
    }
    if (n.size() == 0) {
      throw new RfimRequestException(field, "must not be empty");
    }
    double[] r = new double[n.size()];
    for (int i = 0; i < r.length; i++) {
      r[i] = number(n.get(i), field + "[" + i + "]");
    }
    return r;
  }

  private static double[][] matrix(JsonNode root, String field) {
    JsonNode n = root.get(field);
    if (n == null || n.isNull()) {
      throw new RfimRequestException(field, "missing");
    }
    if (!n.isArray() || n.size() == 0) {
      throw new RfimRequestException(field, "must be a non-empty array of rows");
    }
    double[][] r = new double[n.size()][];
    for (int i = 0; i < r.length; i++) {
      JsonNode row = n.get(i);
      if (!row.isArray()) {
        throw new RfimRequestException(field, "row " + i + " is not an array (expected a matrix)");
      }
      r[i] = vectorOf(row, field + "[" + i + "]");
      if (r[i].length != r[0].length) {
        throw new RfimRequestException(field, "ragged: row " + i + " has " + r[i].length
            + " entries, row 0 has " + r[0].length);
      }
    }
    return r;
  }

  public Kind kind() {
    return kind;
  }

  /** The metric: mean over the rows of X of the kind's closed form. */
  public double[][] metric() {
    switch (kind) {
      case NEURON:
        return ClosedForms.neuronBatchMean(activation, w, x);
      case LINEAR:
        return ClosedForms.linearLayerBatchMean(bigW[0].length, x, sigma);
      case NONLINEAR:
        return ClosedForms.nonlinearLayerBatchMean(activation, bigW, x);
      case SOFTMAX:
        return ClosedForms.softmaxLayerBatchMean(bigW, x);
      case TWO_LAYER:
        return ClosedForms.twoLayerBatchMean(activation, output, bigW, c, x, variant);
      default:
        throw new AssertionError(kind);
    }
  }

  /** Computes {@code {"metric": [[...]], "rank": r}}. */
  public ObjectNode compute() {
    double[][] g = metric();
    ObjectNode res = MAPPER.createObjectNode();
    ArrayNode rows = res.putArray("metric");
    for (double[] row : g) {
      ArrayNode a = rows.addArray();
      for (double v : row) {
        a.add(v);
      }
    }
    res.put("rank", Rank.of(g));
    return res;
  }

  /** {@link #compute()} as compact JSON text. */
  public String computeJson() {
    try {
      return MAPPER.writeValueAsString(compute());
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
