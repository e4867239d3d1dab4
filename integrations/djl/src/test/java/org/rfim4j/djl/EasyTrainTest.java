package org.rfim4j.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rfim4j.optim.RngdConfig;

/**
 * The few lines a DJL user writes, with DJL's own training loop ({@code EasyTrain.fit}, which forwards with labels
 * and steps once per batch): RNGD takes one step per batch, refreshes on schedule, and learns a separable problem.
 */
class EasyTrainTest {
  @BeforeAll
  static void offline() {
    DjlOffline.configure();
  }

  @Test
  void easyTrainFitTrainsWithRngd() throws Exception {
    int n = 400;
    int d = 10;
    try (NDManager manager = NDManager.newBaseManager()) {
      // three classes told apart by the sign pattern of two features
      NDArray x = manager.randomNormal(0, 1, new Shape(n, d), ai.djl.ndarray.types.DataType.FLOAT32);
      NDArray a = x.get(":, 0").gt(0);
      NDArray b = x.get(":, 1").gt(0);
      NDArray y = a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false)
          .add(b.toType(ai.djl.ndarray.types.DataType.FLOAT32, false));
      ArrayDataset data = new ArrayDataset.Builder().setData(x).optLabels(y).setSampling(20, true).build();

      SequentialBlock net = new SequentialBlock()
          .add(Linear.builder().setUnits(16).build()).add(Activation.reluBlock())
          .add(Linear.builder().setUnits(16).build()).add(Activation.tanhBlock())
          .add(Linear.builder().setUnits(3).build());
      try (RngdDjl rngd = RngdDjl.builder(RngdConfig.defaults(0.2).withRefreshPeriod(10)).l2(1e-4).maxBatch(20)
          .build(net);
          Model model = Model.newInstance("easy")) {
        model.setBlock(rngd.block());
        try (Trainer trainer = model.newTrainer(
            rngd.trainingConfig(Loss.softmaxCrossEntropyLoss()))) {
          trainer.initialize(new Shape(20, d));
          EasyTrain.fit(trainer, 15, data, null);
          NDArray pred = trainer.evaluate(new NDList(x)).singletonOrThrow().argMax(1)
              .toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
          float accuracy = pred.eq(y).sum().getLong() / (float) n;
          System.out.println("EasyTrain + RNGD, 15 epochs of 20 batches: train accuracy " + accuracy + ", steps "
              + rngd.optimizer().iterations() + "\n" + rngd.timings());
          assertEquals(15 * n / 20, rngd.optimizer().iterations());
          assertEquals(15 * n / 20, rngd.preconditioner().iteration());
          assertEquals(0, rngd.preconditioner().inversionFailures());
          assertTrue(accuracy > 0.9f, "train accuracy " + accuracy);
        }
      }
    }
  }
}
