package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/** Loads the math test vectors (copied into src/test/resources/vectors) and compares numbers. */
public final class Vectors {
  /** Recommended tolerances of vectors/README.md. */
  public static final double ATOL = 1e-12;
  public static final double RTOL = 1e-9;
  /** Pseudo-inverse tolerances. */
  public static final double PINV_ATOL = 1e-9;
  public static final double PINV_RTOL = 1e-7;

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private Vectors() {}

  public static JsonNode load(String name) {
    try (InputStream in = Vectors.class.getResourceAsStream("/vectors/" + name)) {
      assertNotNull(in, "missing test resource /vectors/" + name);
      return MAPPER.readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static double[] vec(JsonNode n) {
    double[] r = new double[n.size()];
    for (int i = 0; i < r.length; i++) {
      r[i] = n.get(i).doubleValue();
    }
    return r;
  }

  public static double[][] mat(JsonNode n) {
    double[][] r = new double[n.size()][];
    for (int i = 0; i < r.length; i++) {
      r[i] = vec(n.get(i));
    }
    return r;
  }

  public static Map<String, Double> params(JsonNode n) {
    Map<String, Double> m = new LinkedHashMap<>();
    if (n != null) {
      n.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().doubleValue()));
    }
    return m;
  }

  public static NeuronFamily family(JsonNode name, JsonNode params) {
    return NeuronFamily.of(name.asText(), params(params));
  }

  /** Counts every scalar compared (for reporting). */
  public static int compared;

  public static void close(String what, double got, double exp, double atol, double rtol) {
    compared++;
    if (!(Math.abs(got - exp) <= atol + rtol * Math.abs(exp))) {
      fail(what + ": got " + got + ", expected " + exp + " (|diff| " + Math.abs(got - exp) + ")");
    }
  }

  public static void close(String what, double got, double exp) {
    close(what, got, exp, ATOL, RTOL);
  }

  public static void close(String what, double[] got, JsonNode exp, double atol, double rtol) {
    assertEquals(exp.size(), got.length, what + ": length");
    for (int i = 0; i < got.length; i++) {
      close(what + "[" + i + "]", got[i], exp.get(i).doubleValue(), atol, rtol);
    }
  }

  public static void close(String what, double[] got, JsonNode exp) {
    close(what, got, exp, ATOL, RTOL);
  }

  public static void close(String what, double[][] got, JsonNode exp, double atol, double rtol) {
    assertEquals(exp.size(), got.length, what + ": rows");
    for (int i = 0; i < got.length; i++) {
      close(what + "[" + i + "]", got[i], exp.get(i), atol, rtol);
    }
  }

  public static void close(String what, double[][] got, JsonNode exp) {
    close(what, got, exp, ATOL, RTOL);
  }

  /** |got - exp| &lt;= atol + rtol |exp| entrywise, for computed matrices. */
  public static void close(String what, double[][] got, double[][] exp, double atol, double rtol) {
    assertEquals(exp.length, got.length, what + ": rows");
    for (int i = 0; i < got.length; i++) {
      assertEquals(exp[i].length, got[i].length, what + ": cols");
      for (int j = 0; j < got[i].length; j++) {
        close(what + "[" + i + "][" + j + "]", got[i][j], exp[i][j], atol, rtol);
      }
    }
  }
}
