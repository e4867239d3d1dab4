package org.rfim4j.rfim;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.rfim4j.io.JsonErrors;

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
 * The result is {@code {"metric": [[...]], "rank": r}}, the rank with relative tolerance 1e-10 from LAPACK's
 * {@code dsyevr}. The JSON is bound to a record with Jackson's strict features: one object and nothing after
 * it, no unknown or repeated fields, no nulls or strings for numbers; then each kind's fields, the shapes and
 * finiteness are checked. Every malformed request raises {@link RfimRequestException} naming the field by its
 * JSON path ({@code X[1][0]}, {@code activation.params.iota}), in words. Limits: the metric's dimension at
 * most {@link #MAX_DIMENSION}, rows of X times the dimension squared at most {@link #MAX_WORK}; a result that
 * is not finite (inputs that overflow) is refused naming its first such entry.
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

  /** The largest metric computed: {@value} x {@value} (8 MiB of float64; its eigenvalues take a second at most). */
  public static final int MAX_DIMENSION = 1024;

  /**
   * The most work a request may ask for: rows of X times the metric's dimension squared (each row adds its
   * closed form to the mean), {@value}, a few seconds.
   */
  public static final long MAX_WORK = 1L << 30;

  /**
   * Strict binding: no unknown fields, nothing after the object, no repeated keys, no null for a number, no
   * strings for numbers. NaN and Infinity parse so that the check after binding can name the entry.
   */
  private static final ObjectMapper MAPPER = JsonMapper.builder()
      .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
      .build();

  /** The request as written. Which fields a kind takes, and the shapes, are checked after binding. */
  record Wire(String kind, Family activation, Map<String, Double> params, Family output,
      @JsonProperty("output_params") Map<String, Double> outputParams, String variant, Double sigma, double[] w,
      @JsonProperty("W") double[][] bigW, @JsonProperty("C") double[][] c, @JsonProperty("X") double[][] x) {
    /** The fields given (not null), by their JSON names. */
    Set<String> given() {
      Set<String> g = new java.util.LinkedHashSet<>();
      Object[] values = {kind, activation, params, output, outputParams, variant, sigma, w, bigW, c, x};
      String[] names = {"kind", "activation", "params", "output", "output_params", "variant", "sigma", "w", "W",
          "C", "X"};
      for (int i = 0; i < names.length; i++) {
        if (values[i] != null) {
          g.add(names[i]);
        }
      }
      return g;
    }
  }

  /** A neuron family: its name, or {@code {"name": ..., "params": {...}}}. */
  record Family(String name, Map<String, Double> params) {
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    static Family named(String name) {
      return new Family(name, null);
    }

    @JsonCreator(mode = JsonCreator.Mode.PROPERTIES)
    Family(@JsonProperty("name") String name, @JsonProperty("params") Map<String, Double> params) {
      this.name = name;
      this.params = params;
    }
  }

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

  /** Parses and validates JSON text (one object, nothing after it). */
  public static RfimRequest parse(String json) {
    Wire r;
    try {
      r = MAPPER.readValue(json, Wire.class);
    } catch (JsonProcessingException e) {
      JsonErrors.Problem p = JsonErrors.problem(e);
      if (p.path().isEmpty()) {
        throw new RfimRequestException("request", p.text().startsWith("must be") ? "must be a JSON object" : p.text());
      }
      throw new RfimRequestException(p.path(), p.text().startsWith("is ") ? p.text().substring(3) : p.text());
    }
    if (r == null) {
      throw new RfimRequestException("request", "must be a JSON object");
    }
    return validate(r);
  }

  /** Validates a Jackson tree (as {@link #parse(String)}). */
  public static RfimRequest parse(JsonNode root) {
    if (root == null || !root.isObject()) {
      throw new RfimRequestException("request", "must be a JSON object");
    }
    return parse(root.toString());
  }

  private static RfimRequest validate(Wire r) {
    if (r.kind() == null) {
      throw new RfimRequestException("kind", "missing (expected neuron, linear, nonlinear, softmax or two-layer)");
    }
    Kind kind = null;
    for (Kind k : Kind.values()) {
      if (k.wire.equals(r.kind())) {
        kind = k;
      }
    }
    if (kind == null) {
      throw new RfimRequestException("kind",
          "unknown kind '" + r.kind() + "' (expected neuron, linear, nonlinear, softmax or two-layer)");
    }
    for (String f : r.given()) {
      if (!FIELDS.get(kind).contains(f)) {
        throw new RfimRequestException(f, "not a field of kind '" + kind.wire + "'");
      }
    }
    double[][] xs = matrix(r.x(), "X");
    int d = xs[0].length;
    NeuronFamily act = null;
    NeuronFamily out = null;
    TwoLayerVariant variant = TwoLayerVariant.CORRECTED;
    double sigma = 1.0;
    double[] wv = null;
    double[][] wm = null;
    double[][] cm = null;
    long dim;
    switch (kind) {
      case NEURON:
        act = family(r.activation(), r.params(), "activation", "params");
        wv = vector(r.w(), "w");
        if (wv.length != d + 1) {
          throw new RfimRequestException("w", "has length " + wv.length + ", expected D+1 = " + (d + 1)
              + " (X has " + d + " columns)");
        }
        dim = d + 1;
        break;
      case LINEAR:
        if (r.sigma() != null) {
          sigma = finite(r.sigma(), "sigma");
          if (!(sigma > 0)) {
            throw new RfimRequestException("sigma", "must be > 0, got " + sigma);
          }
        }
        wm = layerWeights(r.bigW(), d);
        dim = (long) (d + 1) * wm[0].length;
        break;
      case NONLINEAR:
        act = family(r.activation(), r.params(), "activation", "params");
        wm = layerWeights(r.bigW(), d);
        dim = (long) (d + 1) * wm[0].length;
        break;
      case SOFTMAX:
        wm = layerWeights(r.bigW(), d);
        if (wm[0].length < 2) {
          throw new RfimRequestException("W", "softmax needs at least 2 columns (classes), got " + wm[0].length);
        }
        dim = (long) (d + 1) * wm[0].length;
        break;
      case TWO_LAYER:
        act = family(r.activation(), r.params(), "activation", "params");
        if (act.isOutputOnly()) {
          throw new RfimRequestException("activation", "'" + act.name() + "' is an output-only family, not a hidden unit");
        }
        out = family(r.output(), r.outputParams(), "output", "output_params");
        if (r.variant() != null) {
          if (r.variant().equals("as_printed")) {
            variant = TwoLayerVariant.AS_PRINTED;
          } else if (!r.variant().equals("corrected")) {
            throw new RfimRequestException("variant", "must be \"corrected\" or \"as_printed\"");
          }
        }
        wm = layerWeights(r.bigW(), d);
        cm = matrix(r.c(), "C");
        if (cm.length != wm[0].length + 1) {
          throw new RfimRequestException("C", "has " + cm.length + " rows, expected Dh+1 = " + (wm[0].length + 1)
              + " (W has " + wm[0].length + " columns)");
        }
        dim = (long) (d + 1) * wm[0].length + (long) cm.length * cm[0].length;
        break;
      default:
        throw new AssertionError(kind);
    }
    if (dim > MAX_DIMENSION) {
      throw new RfimRequestException("request", "the metric would be " + dim + " x " + dim + "; the largest computed is "
          + MAX_DIMENSION + " x " + MAX_DIMENSION);
    }
    if ((double) xs.length * dim * dim > MAX_WORK) {
      throw new RfimRequestException("X", "has " + xs.length + " rows for a " + dim + " x " + dim + " metric: rows"
          + " x dimension^2 may be at most " + MAX_WORK + " (" + (MAX_WORK / (dim * dim)) + " rows here)");
    }
    return new RfimRequest(kind, act, out, variant, sigma, wv, wm, cm, xs);
  }

  private static double[][] layerWeights(double[][] given, int d) {
    double[][] wm = matrix(given, "W");
    if (wm.length != d + 1) {
      throw new RfimRequestException("W", "has " + wm.length + " rows, expected D+1 = " + (d + 1)
          + " (X has " + d + " columns; bias is the last row)");
    }
    return wm;
  }

  private static NeuronFamily family(Family f, Map<String, Double> params, String field, String paramsField) {
    if (f == null) {
      throw new RfimRequestException(field, "missing");
    }
    if (f.name() == null) {
      throw new RfimRequestException(field + ".name", "missing or not a string");
    }
    String pField = paramsField;
    if (f.params() != null) {
      if (params != null) {
        throw new RfimRequestException(paramsField, "given both here and in " + field + ".params");
      }
      params = f.params();
      pField = field + ".params";
    }
    Map<String, Double> p = new LinkedHashMap<>();
    if (params != null) {
      for (Map.Entry<String, Double> e : params.entrySet()) {
        p.put(e.getKey(), finite(e.getValue(), pField + "." + e.getKey()));
      }
    }
    if (!NeuronFamily.names().contains(f.name())) {
      throw new RfimRequestException(field,
          "unknown activation '" + f.name() + "' (expected one of " + String.join(", ", NeuronFamily.names()) + ")");
    }
    try {
      return NeuronFamily.of(f.name(), p);
    } catch (IllegalArgumentException e) {
      throw new RfimRequestException(pField, e.getMessage());
    }
  }

  private static double finite(Double v, String field) {
    if (v == null) {
      throw new RfimRequestException(field, "missing");
    }
    if (!Double.isFinite(v)) {
      throw new RfimRequestException(field, "must be finite, got " + v);
    }
    return v;
  }

  private static double[] vector(double[] v, String field) {
    if (v == null) {
      throw new RfimRequestException(field, "missing");
    }
    if (v.length == 0) {
      throw new RfimRequestException(field, "must not be empty");
    }
    for (int i = 0; i < v.length; i++) {
      finite(v[i], field + "[" + i + "]");
    }
    return v;
  }

  private static double[][] matrix(double[][] m, String field) {
    if (m == null) {
      throw new RfimRequestException(field, "missing");
    }
    if (m.length == 0) {
      throw new RfimRequestException(field, "must be a non-empty array of rows");
    }
    for (int i = 0; i < m.length; i++) {
      if (m[i] == null) {
        throw new RfimRequestException(field + "[" + i + "]", "must be an array of numbers, got null");
      }
      vector(m[i], field + "[" + i + "]");
      if (m[i].length != m[0].length) {
        throw new RfimRequestException(field, "ragged: row " + i + " has " + m[i].length
            + " entries, row 0 has " + m[0].length);
      }
    }
    return m;
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

  /**
   * Computes {@code {"metric": [[...]], "rank": r}}; the rank comes from LAPACK's {@code dsyevr} ({@link Rank}).
   *
   * @throws RfimRequestException naming the first entry of the metric that is not finite (the inputs overflow)
   */
  public ObjectNode compute() {
    double[][] g = metric();
    for (int i = 0; i < g.length; i++) {
      for (int j = 0; j < g[i].length; j++) {
        if (!Double.isFinite(g[i][j])) {
          throw new RfimRequestException("metric[" + i + "][" + j + "]", "the result is not finite (" + g[i][j]
              + "): the request's values overflow float64; scale W, C or X down");
        }
      }
    }
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
