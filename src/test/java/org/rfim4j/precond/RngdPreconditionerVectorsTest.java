package org.rfim4j.precond;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.rfim4j.testutil.Vectors.close;
import static org.rfim4j.testutil.Vectors.closeLoose;
import static org.rfim4j.testutil.Vectors.dropLastColumn;
import static org.rfim4j.testutil.Vectors.flat;
import static org.rfim4j.testutil.Vectors.ints;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.testutil.Vectors;

/**
 * The preconditioner alone, driven from host arrays with nothing but the quantities MATH.md's rngd.json stores
 * per step (the metric pass's H~ and pre-activations, the gradients): every scenario (both orders, both
 * dampings, leaky ReLU) reproduces the numpy reference's metrics, inverses and steps. No rfim4j network code
 * is involved, as for a caller with its own forward and backward passes. The float and direct-buffer entry
 * points reproduce the same steps to float precision.
 */
class RngdPreconditionerVectorsTest {
  private static final JsonNode ROOT = Vectors.load("rngd.json");

  /** Which host entry point feeds the preconditioner. */
  enum Entry { DOUBLES, FLOATS, DIRECT_BUFFERS }

  static Stream<Arguments> scenarios() {
    List<Arguments> out = new ArrayList<>();
    for (JsonNode s : ROOT.get("scenarios")) {
      for (Entry e : Entry.values()) {
        out.add(Arguments.of(s.get("name").asText(), e));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("scenarios")
  void reproducesEveryStep(String name, Entry entry) {
    JsonNode s = Vectors.scenario(ROOT, name);
    JsonNode c = s.get("config");
    int[] sizes = ints(c.get("sizes"));
    double iota = c.get("iota").asDouble();
    Nu nu = Nu.of(iota == 0 ? Activation.RELU : Activation.prelu(iota));
    RngdConfig rc = Vectors.rngdConfig(c);
    MetricKind[] kinds = rc.metricKinds();
    List<LayerSpec> specs = new ArrayList<>();
    for (int l = 0; l < kinds.length; l++) {
      specs.add(new LayerSpec("dense" + l, sizes[l], sizes[l + 1], kinds[l], nu));
    }
    boolean stepFirst = rc.order() == RngdConfig.Order.STEP_FIRST;
    // float entry points round every input to float: compare at float precision
    double rel = entry == Entry.DOUBLES ? 0 : 2e-6;
    try (CpuBackend be = new CpuBackend(); RngdPreconditioner p = new RngdPreconditioner(be, rc, 8, specs)) {
      for (JsonNode st : s.get("steps")) {
        String at = name + " " + entry + " t=" + st.get("t").asInt() + " ";
        assertEquals(st.get("t").asLong(), p.iteration(), at + "step counter");
        int b = st.get("y").size();
        for (int l = 0; l < kinds.length; l++) {
          String id = "dense" + l;
          double[] grad = flat(st.get("grads").get(l));
          double[] h = dropLastColumn(st.get("H_tilde_for_metric").get(l));
          double[] a = flat(st.get("pre_activations_for_metric").get(l));
          double[] out = new double[grad.length];
          if (!stepFirst) {
            observe(p, entry, id, h, a, b);
            check(at + "G_after[" + l + "]", flat(st.get("G_after").get(l)), be.download(p.metric(id)), rel);
          }
          precondition(p, entry, id, grad, out);
          check(at + "Ginv_used[" + l + "]", flat(st.get("Ginv_used").get(l)), be.download(p.inverse(id)), rel);
          double gamma = rc.learningRate();
          double[] delta = new double[out.length];
          for (int i = 0; i < delta.length; i++) {
            delta[i] = -gamma * out[i];
          }
          closeLoose(at + "delta[" + l + "]", flat(st.get("delta").get(l)), delta, entry == Entry.DOUBLES ? 1e-12 : 1e-6);
          if (stepFirst) {
            observe(p, entry, id, h, a, b);
            check(at + "G_after[" + l + "]", flat(st.get("G_after").get(l)), be.download(p.metric(id)), rel);
          }
        }
        p.endStep();
      }
      assertEquals(0, p.inversionFailures(), name + ": no inversion may fail");
    }
  }

  private static void check(String what, double[] exp, double[] got, double rel) {
    if (rel == 0) {
      close(what, exp, got);
    } else {
      closeLoose(what, exp, got, rel);
    }
  }

  private static void observe(RngdPreconditioner p, Entry e, String id, double[] h, double[] a, int b) {
    switch (e) {
      case DOUBLES:
        // at an offset inside larger arrays, as a caller's batch buffers often are
        p.observe(id, shifted(h, 3), 3, shifted(a, 5), 5, b);
        break;
      case FLOATS:
        p.observe(id, floats(h), 0, floats(a), 0, b);
        break;
      default:
        p.observe(id, direct(h, 2), 2, direct(a, 0), 0, b);
    }
  }

  private static void precondition(RngdPreconditioner p, Entry e, String id, double[] grad, double[] out) {
    switch (e) {
      case DOUBLES: {
        double[] o = new double[out.length + 4];
        p.precondition(id, shifted(grad, 1), 1, o, 4);
        System.arraycopy(o, 4, out, 0, out.length);
        break;
      }
      case FLOATS: {
        float[] o = new float[out.length];
        p.precondition(id, floats(grad), 0, o, 0);
        for (int i = 0; i < o.length; i++) {
          out[i] = o[i];
        }
        break;
      }
      default: {
        FloatBuffer o = direct(new double[out.length + 2], 0);
        p.precondition(id, direct(grad, 0), 0, o, 2);
        for (int i = 0; i < out.length; i++) {
          out[i] = o.get(2 + i);
        }
      }
    }
  }

  private static double[] shifted(double[] v, int offset) {
    double[] s = new double[v.length + offset + 2];
    java.util.Arrays.fill(s, Double.NaN);  // anything outside the window must not be read
    System.arraycopy(v, 0, s, offset, v.length);
    return s;
  }

  private static float[] floats(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }

  private static FloatBuffer direct(double[] v, int offset) {
    FloatBuffer b = ByteBuffer.allocateDirect((v.length + offset) * 4).order(ByteOrder.nativeOrder())
        .asFloatBuffer();
    for (int i = 0; i < v.length; i++) {
      b.put(offset + i, (float) v[i]);
    }
    return b;
  }
}
