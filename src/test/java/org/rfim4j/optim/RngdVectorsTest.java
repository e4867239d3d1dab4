package org.rfim4j.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.rfim4j.testutil.Vectors.close;
import static org.rfim4j.testutil.Vectors.closeLoose;
import static org.rfim4j.testutil.Vectors.dropLastColumn;
import static org.rfim4j.testutil.Vectors.flat;
import static org.rfim4j.testutil.Vectors.ints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.DenseLayer;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.testutil.Vectors;

/**
 * Every scenario of MATH.md's rngd.json (canonical, paper-text damping, reference-code order, paper
 * hyper-parameters, leaky ReLU), every stored intermediate of every step, reproduced by the real model
 * and optimizer on the float64 CPU backend within the vectors' tolerance 1e-12 + 1e-9 |expected|.
 */
class RngdVectorsTest {
  private static JsonNode root;

  @BeforeAll
  static void load() throws IOException {
    try (InputStream in = RngdVectorsTest.class.getResourceAsStream("/vectors/rngd.json")) {
      root = new ObjectMapper().readTree(in);
    }
  }

  static Stream<Arguments> scenarios() throws IOException {
    load();
    List<Arguments> out = new ArrayList<>();
    for (JsonNode s : root.get("scenarios")) {
      out.add(Arguments.of(s.get("name").asText()));
    }
    return out.stream();
  }

  @ParameterizedTest
  @MethodSource("scenarios")
  void scenarioReproducesEveryIntermediate(String name) {
    JsonNode s = Vectors.scenario(root, name);
    JsonNode c = s.get("config");
    int[] sizes = ints(c.get("sizes"));
    double iota = c.get("iota").asDouble();
    Activation act = iota == 0 ? Activation.RELU : Activation.prelu(iota);
    int[] hidden = java.util.Arrays.copyOfRange(sizes, 1, sizes.length - 1);
    MlpConfig mc = new MlpConfig(sizes[0], hidden, sizes[sizes.length - 1], act, Architecture.PLAIN,
        c.get("l2").asDouble(), 0.1, 0, 0.999, 1e-3);
    RngdConfig rc = Vectors.rngdConfig(c);
    boolean paperDamping = rc.damping() == RngdConfig.Damping.PAPER;
    MetricKind[] kinds = rc.metricKinds();
    boolean stepFirst = rc.order() == RngdConfig.Order.STEP_FIRST;

    try (Backend be = new CpuBackend(); Mlp model = new Mlp(be, mc, 5); Rngd opt = new Rngd(model, rc)) {
      JsonNode w0 = root.get("W_init");
      for (int l = 0; l < kinds.length; l++) {
        model.setWeights(l, flat(w0.get(l)));
      }
      List<DenseLayer> layers = model.layers();
      for (JsonNode st : s.get("steps")) {
        String at = name + " t=" + st.get("t").asInt() + " ";
        assertEquals(st.get("t").asLong(), opt.iterations(), at + "step counter");
        double[] x = flat(st.get("X"));
        int b = st.get("y").size();
        double[] y = new double[b];
        for (int k = 0; k < b; k++) {
          y[k] = st.get("y").get(k).asDouble();
        }
        try (DeviceArray xa = be.allocate(b, sizes[0]); DeviceArray ya = be.allocate(b, 1);
            DeviceArray stats = be.allocate(2)) {
          be.upload(xa, x);
          be.upload(ya, y);
          Map<String, DeviceArray> state = opt.state();
          for (int l = 0; l < kinds.length; l++) {
            String w = layers.get(l).weights().name();
            close(at + "W_before[" + l + "]", flat(st.get("W_before").get(l)), be.download(layers.get(l).weights().value()));
            close(at + "G_before[" + l + "]", flat(st.get("G_before").get(l)), be.download(state.get(w + ".G")));
            close(at + "Ginv_before[" + l + "]", flat(st.get("Ginv_before").get(l)), be.download(state.get(w + ".Ginv")));
          }
          model.forward(xa, true, true);
          model.lossAndGradient(ya, stats);
          for (int l = 0; l < kinds.length; l++) {
            DenseLayer layer = layers.get(l);
            close(at + "pre_activations[" + l + "]", flat(st.get("pre_activations").get(l)),
                be.download(layer.lastPreActivation(be)));
            close(at + "H_tilde[" + l + "]", dropLastColumn(st.get("H_tilde").get(l)), be.download(layer.lastInput()));
            close(at + "grads[" + l + "]", flat(st.get("grads").get(l)), be.download(layer.weights().grad()));
          }
          close(at + "probs", flat(st.get("probs")), be.download(model.probabilities()));
          double loss = be.download(stats)[0] / b + model.l2Penalty();
          close(at + "loss", new double[] {st.get("loss").asDouble()}, new double[] {loss});

          double[][] ginvBefore = new double[kinds.length][];
          for (int l = 0; l < kinds.length; l++) {
            ginvBefore[l] = be.download(state.get(layers.get(l).weights().name() + ".Ginv"));
          }
          opt.step();
          for (int l = 0; l < kinds.length; l++) {
            DenseLayer layer = layers.get(l);
            String w = layer.weights().name();
            double[] gBefore = flat(st.get("G_before").get(l));
            double[] gAfter = be.download(state.get(w + ".G"));
            close(at + "G_after[" + l + "]", flat(st.get("G_after").get(l)), gAfter);
            double[] ginvNow = be.download(state.get(w + ".Ginv"));
            close(at + "Ginv_used[" + l + "]", flat(st.get("Ginv_used").get(l)), stepFirst ? ginvBefore[l] : ginvNow);
            if (!st.get("refreshed").asBoolean()) {
              close(at + "inverse kept[" + l + "]", ginvBefore[l], ginvNow);
            }
            // The batch metric M implied by the EMA: M = (G_after - (1-lam) G_before - epsAdd I) / lam.
            double[] m = new double[gAfter.length];
            int d = layer.fanIn() + 1;
            for (int i = 0; i < m.length; i++) {
              boolean diag = (i % (d * d)) / d == i % d;
              m[i] = (gAfter[i] - (1 - rc.lambda()) * gBefore[i] - (paperDamping && diag ? rc.epsAdd() : 0)) / rc.lambda();
            }
            closeLoose(at + "batch_metric[" + l + "]", flat(st.get("batch_metric").get(l)), m, 1e-9);
            close(at + "W_after[" + l + "]", flat(st.get("W_after").get(l)), be.download(layer.weights().value()));
            double[] delta = be.download(layer.weights().value());
            double[] before = flat(st.get("W_before").get(l));
            for (int i = 0; i < delta.length; i++) {
              delta[i] -= before[i];
            }
            closeLoose(at + "delta[" + l + "]", flat(st.get("delta").get(l)), delta, 1e-12);
            close(at + "pre_activations_for_metric[" + l + "]", flat(st.get("pre_activations_for_metric").get(l)),
                be.download(layer.lastPreActivation(be)));
            close(at + "H_tilde_for_metric[" + l + "]", dropLastColumn(st.get("H_tilde_for_metric").get(l)),
                be.download(layer.lastInput()));
          }
          // nu of the per-neuron layer, from the metric pass's pre-activations, by the backend op.
          JsonNode nus = st.get("nu_per_neuron_layers");
          for (var it = nus.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            DenseLayer layer = layers.get(Integer.parseInt(key));
            try (DeviceArray nu = be.allocate(b, layer.fanOut())) {
              be.nuCoefficients(layer.activation(), layer.lastPreActivation(be), rc.omega(), nu);
              close(at + "nu[" + key + "]", flat(nus.get(key)), be.download(nu));
            }
          }
        }
      }
      assertEquals(0, opt.inversionFailures(), name + ": no inversion may fail");
    }
  }
}
