package org.rfim4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.optimize.listeners.ScoreIterationListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.rfim4j.optim.RngdConfig;

/**
 * What {@link Rngd4j} refuses, and that it refuses it before anything changes: unsupported layers,
 * activations, losses and training configurations at attach time; a second listener, a batch that changed
 * between the forward pass and the gradient, a batch over maxBatch while training.
 */
class Rngd4jAttachTest {
  static final int[] WIDTHS = {5, 4, 3, 2};
  static final double LR = 0.05;
  static final RngdConfig CONFIG = RngdConfig.defaults(LR).withRefreshPeriod(2);

  static Rngd4j.Options cpu() {
    return Rngd4j.options().device("cpu").maxBatch(16).l2(1e-3);
  }

  static MultiLayerNetwork net(Consumer<NeuralNetConfiguration.ListBuilder> change) {
    NeuralNetConfiguration.ListBuilder lb = Nets.builder(WIDTHS, Activation.RELU.getActivationFunction(), LR, 0);
    change.accept(lb);
    MultiLayerNetwork n = new MultiLayerNetwork(lb.build());
    n.init();
    return n;
  }

  static MultiLayerNetwork net(NeuralNetConfiguration.Builder global, Object... layers) {
    NeuralNetConfiguration.ListBuilder lb = global.dataType(DataType.FLOAT).list();
    for (Object l : layers) {
      lb.layer((org.deeplearning4j.nn.conf.layers.Layer) l);
    }
    MultiLayerNetwork n = new MultiLayerNetwork(lb.build());
    n.init();
    return n;
  }

  static DenseLayer dense(int in, int out, Activation a) {
    return new DenseLayer.Builder().nIn(in).nOut(out).activation(a).build();
  }

  static OutputLayer softmaxOut(int in, int out) {
    return new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(in).nOut(out)
        .activation(Activation.SOFTMAX).build();
  }

  static NeuralNetConfiguration.Builder sgd() {
    return new NeuralNetConfiguration.Builder().seed(3).updater(new Sgd(LR));
  }

  static DataSet batch(int rows, long seed) {
    Nd4j.getRandom().setSeed(seed);
    INDArray x = Nd4j.rand(DataType.FLOAT, rows, WIDTHS[0]).subi(0.5);
    INDArray y = Nd4j.zeros(DataType.FLOAT, rows, WIDTHS[3]);
    for (int k = 0; k < rows; k++) {
      y.putScalar(k, k % WIDTHS[3], 1f);
    }
    return new DataSet(x, y);
  }

  /** attach refuses with a message holding every fragment, and leaves params and listeners as they were. */
  static void refuses(MultiLayerNetwork n, RngdConfig config, String... fragments) {
    INDArray before = n.params().dup();
    List<TrainingListener> listeners = new ArrayList<>(n.getListeners());
    RuntimeException e = assertThrows(RuntimeException.class, () -> Rngd4j.attach(n, config, cpu()));
    assertTrue(e instanceof IllegalArgumentException || e instanceof IllegalStateException, e.toString());
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' should contain '" + f + "'");
    }
    assertEquals(before, n.params(), "parameters unchanged");
    assertEquals(listeners, new ArrayList<>(n.getListeners()), "listeners unchanged");
  }

  @Test
  void unsupportedLayerIsNamed() {
    MultiLayerNetwork n = net(sgd(), dense(5, 4, Activation.RELU), new BatchNormalization.Builder().nOut(4).build(),
        softmaxOut(4, 2));
    refuses(n, CONFIG, "layer 1", "BatchNormalization", "DenseLayer hidden layers");
  }

  @Test
  void unsupportedActivationIsNamed() {
    MultiLayerNetwork n = net(sgd(), dense(5, 4, Activation.RELU), dense(4, 3, Activation.SOFTPLUS),
        softmaxOut(3, 2));
    refuses(n, CONFIG, "layer 1", "softplus", "supported activations: relu");
  }

  @Test
  void eluWithAlphaOtherThanOneIsRefused() {
    MultiLayerNetwork n = net(sgd(), dense(5, 4, Activation.RELU),
        new DenseLayer.Builder().nIn(4).nOut(3).activation(new ActivationELU(0.5)).build(), softmaxOut(3, 2));
    refuses(n, CONFIG, "layer 1", "elu with alpha 0.5", "ELU backward pass uses alpha = 1");
  }

  @Test
  void unsupportedLossAndOutputActivationAreNamed() {
    MultiLayerNetwork mse = net(sgd(), dense(5, 4, Activation.RELU), new OutputLayer.Builder(
        LossFunctions.LossFunction.MSE).nIn(4).nOut(2).activation(Activation.SOFTMAX).build());
    refuses(mse, CONFIG, "layer 1", "loss", "MCXENT");
    MultiLayerNetwork sigmoidOut = new MultiLayerNetwork(sgd().dataType(DataType.FLOAT).list()
        .layer(dense(5, 4, Activation.RELU)).layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
            .nIn(4).nOut(2).activation(Activation.SIGMOID).build())
        .validateOutputLayerConfig(false).build());
    sigmoidOut.init();
    refuses(sigmoidOut, CONFIG, "layer 1", "must be softmax");
    MultiLayerNetwork denseLast = net(sgd(), dense(5, 4, Activation.RELU), dense(4, 2, Activation.RELU));
    refuses(denseLast, CONFIG, "layer 1", "last layer");
  }

  @Test
  void dl4jRegularisationIsRefusedWithTheFix() {
    refuses(net(sgd().l2(1e-3), dense(5, 4, Activation.RELU), softmaxOut(4, 2)), CONFIG, "layer 0",
        "regularisation", "Rngd4j.Options.l2(beta)");
    refuses(net(sgd().weightDecay(1e-3), dense(5, 4, Activation.RELU), softmaxOut(4, 2)), CONFIG, "layer 0",
        "regularisation");
    refuses(net(sgd(), dense(5, 4, Activation.RELU), new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
        .nIn(4).nOut(2).activation(Activation.SOFTMAX).l2Bias(1e-3).build()), CONFIG, "layer 1", "regularisation");
  }

  @Test
  void theUpdaterMustBePlainSgdAtTheRngdRate() {
    refuses(net(new NeuralNetConfiguration.Builder().updater(new Adam(1e-3)), dense(5, 4, Activation.RELU),
        softmaxOut(4, 2)), CONFIG, "layer 0", "Adam", "new Sgd(0.05)");
    refuses(net(new NeuralNetConfiguration.Builder().updater(new Sgd(0.1)), dense(5, 4, Activation.RELU),
        softmaxOut(4, 2)), CONFIG, "layer 0", "Sgd(0.1)", "0.05", "must agree");
    refuses(net(sgd(), dense(5, 4, Activation.RELU), new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
        .nIn(4).nOut(2).activation(Activation.SOFTMAX).biasUpdater(new Sgd(0.5)).build()), CONFIG,
        "layer 1", "parameter b", "Sgd(0.5)");
  }

  @Test
  void otherTrainingSettingsAreRefused() {
    refuses(net(sgd().miniBatch(false), dense(5, 4, Activation.RELU), softmaxOut(4, 2)), CONFIG, "miniBatch(false)");
    refuses(net(sgd().gradientNormalization(GradientNormalization.ClipElementWiseAbsoluteValue),
        dense(5, 4, Activation.RELU), softmaxOut(4, 2)), CONFIG, "layer 0", "gradient normalisation");
    refuses(net(sgd().dropOut(0.5), dense(5, 4, Activation.RELU), softmaxOut(4, 2)), CONFIG, "layer 0", "dropout");
    refuses(net(sgd(), new DenseLayer.Builder().nIn(5).nOut(4).activation(Activation.RELU).hasBias(false).build(),
        softmaxOut(4, 2)), CONFIG, "layer 0", "no bias");
    NeuralNetConfiguration.ListBuilder lb = sgd().dataType(DataType.DOUBLE).list()
        .layer(dense(5, 4, Activation.RELU)).layer(softmaxOut(4, 2));
    MultiLayerNetwork dbl = new MultiLayerNetwork(lb.build());
    dbl.init();
    refuses(dbl, CONFIG, "DOUBLE", "FLOAT");
    MultiLayerNetwork notInit = new MultiLayerNetwork(sgd().dataType(DataType.FLOAT).list()
        .layer(dense(5, 4, Activation.RELU)).layer(softmaxOut(4, 2)).build());
    assertThrows(IllegalArgumentException.class, () -> Rngd4j.attach(notInit, CONFIG, cpu()));
    refuses(net(lb2 -> { }), CONFIG.withMetricKinds(org.rfim4j.optim.MetricKind.SHARED), "metric kinds");
  }

  @Test
  void attachingTwiceIsRefused() {
    MultiLayerNetwork n = net(lb -> { });
    try (Rngd4j first = Rngd4j.attach(n, CONFIG, cpu())) {
      refuses(n, CONFIG, "already has an RNGD listener");
      n.fit(batch(8, 1));
      assertEquals(1, first.iteration());
    }
    assertFalse(n.getListeners().stream().anyMatch(l -> l.toString().startsWith("Rngd4j")), "close removed it");
    try (Rngd4j second = Rngd4j.attach(n, CONFIG, cpu())) {
      n.fit(batch(8, 2));
      assertEquals(1, second.iteration());
    }
  }

  @Test
  void aListenerRegisteredTwiceStopsTrainingBeforeTheStep() {
    MultiLayerNetwork n = net(lb -> { });
    try (Rngd4j rngd = Rngd4j.attach(n, CONFIG, cpu())) {
      TrainingListener ours = n.getListeners().iterator().next();
      n.addListeners(new ScoreIterationListener(1000), ours);
      INDArray before = n.params().dup();
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> n.fit(batch(8, 1)));
      assertTrue(e.getMessage().contains("registered 2 times"), e.getMessage());
      assertEquals(before, n.params());
      assertEquals(0, rngd.iteration());
    }
  }

  @Test
  void aBatchThatChangedBetweenForwardPassAndGradientIsRefused() {
    MultiLayerNetwork n = net(lb -> { });
    try (Rngd4j rngd = Rngd4j.attach(n, CONFIG, cpu())) {
      TrainingListener ours = n.getListeners().iterator().next();
      DataSet small = batch(6, 1);
      List<INDArray> acts = n.feedForward(small.getFeatures(), true);
      ours.onForwardPass(n, acts.subList(0, WIDTHS.length - 1));   // the inputs of the 3 layers, 6 rows
      DataSet other = batch(8, 2);
      n.setInput(other.getFeatures());
      n.setLabels(other.getLabels());
      INDArray before = n.params().dup();
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> ours.onGradientCalculation(n));
      assertTrue(e.getMessage().contains("layer 0") && e.getMessage().contains("batch changed")
          && e.getMessage().contains("observed 6 rows"), e.getMessage());
      assertEquals(before, n.params());
      assertEquals(0, rngd.iteration());
      n.fit(other);   // the preconditioner's state was not touched: training goes on
      assertEquals(1, rngd.iteration());
    }
  }

  @Test
  void aBatchOverMaxBatchIsRefusedBeforeTheStep() {
    MultiLayerNetwork n = net(lb -> { });
    try (Rngd4j rngd = Rngd4j.attach(n, CONFIG, cpu().maxBatch(4))) {
      INDArray before = n.params().dup();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> n.fit(batch(8, 1)));
      assertTrue(e.getMessage().contains("layer 0") && e.getMessage().contains("maxBatch 4"), e.getMessage());
      assertEquals(before, n.params());
      n.fit(batch(4, 2));
      assertEquals(1, rngd.iteration());
    }
  }

  @Test
  void closeLeavesPlainSgd() {
    MultiLayerNetwork n = net(lb -> { });
    Rngd4j rngd = Rngd4j.attach(n, CONFIG, cpu());
    n.fit(batch(8, 1));
    rngd.close();
    rngd.close();
    assertTrue(n.getListeners().isEmpty());
    INDArray before = n.params().dup();
    n.fit(batch(8, 2));
    assertFalse(before.equals(n.params()), "plain SGD still trains");
    assertEquals(MultiLayerConfiguration.class, n.getLayerWiseConfigurations().getClass());
  }

  @Test
  void timingsAndLayersAreReported() {
    MultiLayerNetwork n = net(lb -> { });
    try (Rngd4j rngd = Rngd4j.attach(n, CONFIG, cpu())) {
      for (int s = 0; s < 3; s++) {
        n.fit(batch(8, s));
      }
      Rngd4j.Timings t = rngd.timings();
      assertEquals(3, t.steps());
      assertTrue(t.observe() > 0 && t.precondition() > 0 && t.listener() > 0, t.toString());
      assertEquals(List.of("layer 0 ('layer0', 5 x 4): layer0 (5+1) x 4, shared",
          "layer 1 ('layer1', 4 x 3): layer1 (4+1) x 3, per-neuron relu",
          "layer 2 ('layer2', 3 x 2): layer2 (3+1) x 2, shared"), rngd.describeLayers());
      assertEquals(0, rngd.inversionFailures());
    }
  }
}
