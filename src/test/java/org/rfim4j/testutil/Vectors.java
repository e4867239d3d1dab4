package org.rfim4j.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.RngdConfig;

/** Reading MATH.md's float64 test vectors (src/test/resources/vectors) and comparing against them. */
public final class Vectors {
  private Vectors() {}

  /** A vector file as a JSON tree, e.g. {@code rngd.json}. */
  public static JsonNode load(String file) {
    try (InputStream in = Vectors.class.getResourceAsStream("/vectors/" + file)) {
      return new ObjectMapper().readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The rngd.json scenario called {@code name}. */
  public static JsonNode scenario(JsonNode root, String name) {
    for (JsonNode x : root.get("scenarios")) {
      if (x.get("name").asText().equals(name)) {
        return x;
      }
    }
    throw new IllegalArgumentException("no scenario " + name);
  }

  /** The RNGD configuration of an rngd.json scenario's {@code config}, metric kinds included. */
  public static RngdConfig rngdConfig(JsonNode c) {
    int[] sizes = ints(c.get("sizes"));
    boolean paperDamping = c.get("damping").asText().equals("ema_additive");
    MetricKind[] kinds = new MetricKind[sizes.length - 1];
    for (int l = 0; l < kinds.length; l++) {
      kinds[l] = c.get("metric_kind_per_layer").get(l).asText().equals("shared") ? MetricKind.SHARED
          : MetricKind.PER_NEURON;
    }
    RngdConfig rc = new RngdConfig(c.get("gamma").asDouble(), c.get("lam").asDouble(), c.get("T").asInt(),
        c.get("omega").asDouble(), paperDamping ? 0 : c.get("eps_rel").asDouble(),
        paperDamping ? 0 : c.get("eps_abs").asDouble(),
        paperDamping ? RngdConfig.Damping.PAPER : RngdConfig.Damping.CANONICAL,
        paperDamping ? c.get("eps_add").asDouble() : 0,
        c.get("order").asText().equals("metric_first") ? RngdConfig.Order.METRIC_FIRST : RngdConfig.Order.STEP_FIRST,
        kinds);
    return rc;
  }

  /** |got - exp| <= 1e-12 + 1e-9 |exp| elementwise (the vectors README's recommended check). */
  public static void close(String what, double[] exp, double[] got) {
    assertEquals(exp.length, got.length, what + ": length");
    for (int i = 0; i < exp.length; i++) {
      double tol = 1e-12 + 1e-9 * Math.abs(exp[i]);
      assertTrue(Math.abs(got[i] - exp[i]) <= tol,
          what + "[" + i + "]: expected " + exp[i] + ", got " + got[i] + " (tolerance " + tol + ")");
    }
  }

  /**
   * Quantities derived by differences (the EMA's M, the step delta) lose digits to cancellation; they
   * are checked to an absolute tolerance scaled by the largest entry.
   */
  public static void closeLoose(String what, double[] exp, double[] got, double rel) {
    double scale = 0;
    for (double e : exp) {
      scale = Math.max(scale, Math.abs(e));
    }
    assertEquals(exp.length, got.length, what + ": length");
    for (int i = 0; i < exp.length; i++) {
      double tol = 1e-12 + rel * Math.max(scale, 1.0);
      assertTrue(Math.abs(got[i] - exp[i]) <= tol, what + "[" + i + "]: expected " + exp[i] + ", got " + got[i]);
    }
  }

  public static double[] flat(JsonNode n) {
    List<Double> v = new ArrayList<>();
    walk(n, v);
    double[] a = new double[v.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = v.get(i);
    }
    return a;
  }

  private static void walk(JsonNode n, List<Double> v) {
    if (n.isArray()) {
      n.forEach(c -> walk(c, v));
    } else {
      v.add(n.asDouble());
    }
  }

  public static double[] dropLastColumn(JsonNode rows) {
    List<Double> v = new ArrayList<>();
    for (JsonNode r : rows) {
      for (int j = 0; j + 1 < r.size(); j++) {
        v.add(r.get(j).asDouble());
      }
      assertEquals(1.0, r.get(r.size() - 1).asDouble(), "H_tilde's last column is the constant 1");
    }
    return v.stream().mapToDouble(Double::doubleValue).toArray();
  }

  public static int[] ints(JsonNode n) {
    int[] a = new int[n.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = n.get(i).asInt();
    }
    return a;
  }
}
