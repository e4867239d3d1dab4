package org.rfim4j.djl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rfim4j.optim.RngdConfig;

/**
 * What RNGD for DJL accepts and refuses: every refusal names the offending block or loss and comes before any
 * parameter changes (at {@code build}, {@code trainingConfig}, or the first {@code update} of a step).
 */
class RngdDjlRefusalTest {
  @BeforeAll
  static void offline() {
    DjlOffline.configure();
  }

  static Linear linear(int units) {
    return Linear.builder().setUnits(units).build();
  }

  static String refused(SequentialBlock net) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RngdDjl.builder(RngdConfig.defaults(0.1)).build(net));
    System.out.println("refused: " + e.getMessage());
    return e.getMessage();
  }

  @Test
  void unsupportedBlocksAreRefusedByName() {
    String m = refused(new SequentialBlock().add(linear(8)).add(Activation.reluBlock())
        .add(Dropout.builder().optRate(0.5f).build()).add(linear(3)));
    assertTrue(m.contains("03Dropout") && m.contains("ai.djl.nn.norm.Dropout"), m);
    m = refused(new SequentialBlock().add(linear(8)).add(BatchNorm.builder().build()).add(Activation.reluBlock())
        .add(linear(3)));
    assertTrue(m.contains("02BatchNorm"), m);
    m = refused(new SequentialBlock().add(linear(8)).add(Activation::relu).add(linear(3)));
    assertTrue(m.contains("02LambdaBlock") && m.contains("unnamed lambda"), m);
    m = refused(new SequentialBlock().add(linear(8)).add(Activation.softPlusBlock()).add(linear(3)));
    assertTrue(m.contains("'softPlus'"), m);
    m = refused(new SequentialBlock().add(linear(8)).add(Activation.reluBlock()).add(Activation.tanhBlock())
        .add(linear(3)));
    assertTrue(m.contains("03LambdaBlock"), m);
    m = refused(new SequentialBlock().add(linear(8)).add(Activation.reluBlock()).add(linear(3))
        .add(Activation.sigmoidBlock()));
    assertTrue(m.contains("04LambdaBlock") && m.contains("after the last Linear"), m);
    m = refused(new SequentialBlock().add(linear(8)).add(Activation.reluBlock())
        .add(Linear.builder().setUnits(3).optBias(false).build()));
    assertTrue(m.contains("03Linear") && m.contains("no bias"), m);
    m = refused(new SequentialBlock().add(linear(8)).add(Activation.leakyReluBlock(1.5f)).add(linear(3)));
    assertTrue(m.contains("02LambdaBlock") && m.contains("1.5"), m);
    m = refused(new SequentialBlock().add(Activation.reluBlock()).add(linear(3)));
    assertTrue(m.contains("01LambdaBlock"), m);
    m = refused(new SequentialBlock().add(linear(8)).add(new SequentialBlock().add(Activation.reluBlock())
        .add(linear(4)).setReturnIntermediate(true)).add(linear(3)));
    assertTrue(m.contains("intermediate"), m);
    m = refused(new SequentialBlock().add(linear(4)).add(new ai.djl.nn.LambdaBlock(x -> x, "ReLU")).add(linear(3)));
    assertTrue(m.contains("02LambdaBlock") && m.contains("computes f(-2.0)"), m);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RngdDjl.builder(
        RngdConfig.defaults(0.1).withOrder(RngdConfig.Order.STEP_FIRST)));
    assertTrue(e.getMessage().contains("metric-first"), e.getMessage());
  }

  @Test
  void supportedNetworksAreRecognised() {
    SequentialBlock net = new SequentialBlock().add(Blocks.batchFlattenBlock())
        .add(new SequentialBlock().add(linear(8)).add(Activation.leakyReluBlock(0.25f)))
        .add(linear(7)).add(Activation.eluBlock(0.5f))
        .add(linear(6))  // identity: no activation
        .add(linear(5)).add(Blocks.identityBlock())
        .add(linear(4)).add(Activation.tanhBlock())
        .add(linear(3)).add(Activation.sigmoidBlock())
        .add(linear(2));
    try (RngdDjl r = RngdDjl.builder(RngdConfig.defaults(0.1)).build(net)) {
      List<String> acts = new ArrayList<>();
      r.activations().forEach(a -> acts.add(String.valueOf(a)));
      assertEquals(List.of("prelu(iota=0.25)", "elu(alpha=0.5)", "identity", "identity", "tanh", "sigmoid", "null"),
          acts);
      assertEquals(7, r.layers().size());
      assertEquals("L1", r.layers().get(0).layerId());
    }
  }

  @Test
  void unsupportedLossesAreRefusedByName() {
    RngdDjl.checkLoss(Loss.softmaxCrossEntropyLoss());
    List<Loss> bad = List.of(Loss.l2Loss(), Loss.sigmoidBinaryCrossEntropyLoss(),
        new SoftmaxCrossEntropyLoss("notLogits", 1, -1, true, false),
        new SoftmaxCrossEntropyLoss("oneHot", 1, -1, false, true),
        new SoftmaxCrossEntropyLoss("weighted", 2, -1, true, true));
    for (Loss loss : bad) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RngdDjl.checkLoss(loss));
      System.out.println("refused: " + e.getMessage());
      assertTrue(e.getMessage().contains("'" + loss.getName() + "'"), e.getMessage());
    }
  }

  /** The weights of every Linear block, flattened. */
  static List<float[]> weights(RngdDjl r) {
    List<float[]> out = new ArrayList<>();
    for (RecordingLinear l : r.layers()) {
      for (var p : l.linear().getDirectParameters().values()) {
        out.add(p.getArray().toFloatArray());
      }
    }
    return out;
  }

  /** One training step of {@code block} on a batch of {@code rows}; returns what trainer.step() threw. */
  static RuntimeException failingStep(RngdDjl r, Block block, int rows) {
    try (Model model = Model.newInstance("refuse", ai.djl.Device.cpu(), "PyTorch")) {
      model.setBlock(block);
      Loss loss = Loss.softmaxCrossEntropyLoss();
      try (Trainer trainer = model.newTrainer(r.trainingConfig(loss))) {
        trainer.initialize(new Shape(rows, 6));
        List<float[]> before = weights(r);
        NDArray x = trainer.getManager().randomNormal(new Shape(rows, 6));
        NDArray y = trainer.getManager().create(new float[rows]);
        try (GradientCollector gc = trainer.newGradientCollector()) {
          gc.backward(loss.evaluate(new NDList(y), trainer.forward(new NDList(x))));
        }
        RuntimeException e = assertThrows(RuntimeException.class, trainer::step);
        List<float[]> after = weights(r);
        for (int i = 0; i < before.size(); i++) {
          assertArrayEquals(before.get(i), after.get(i), "parameter " + i + " changed before the refusal");
        }
        System.out.println("refused at step: " + e.getMessage());
        return e;
      }
    }
  }

  @Test
  void trainingTheUnwrappedBlockIsRefusedBeforeAnyChange() {
    SequentialBlock net = new SequentialBlock().add(linear(5)).add(Activation.reluBlock()).add(linear(3));
    try (RngdDjl r = RngdDjl.builder(RngdConfig.defaults(0.1)).build(net)) {
      RuntimeException e = failingStep(r, net, 4);  // net, not r.block(): nothing is recorded
      assertTrue(e instanceof IllegalStateException && e.getMessage().contains("recorded no training forward pass")
          && e.getMessage().contains("RngdDjl.block()"), e.getMessage());
    }
  }

  @Test
  void aBatchOverMaxBatchIsRefusedBeforeAnyChange() {
    SequentialBlock net = new SequentialBlock().add(linear(5)).add(Activation.reluBlock()).add(linear(3));
    try (RngdDjl r = RngdDjl.builder(RngdConfig.defaults(0.1)).maxBatch(4).build(net)) {
      RuntimeException e = failingStep(r, r.block(), 8);
      assertTrue(e instanceof IllegalArgumentException && e.getMessage().contains("maxBatch 4"), e.getMessage());
    }
  }
}
