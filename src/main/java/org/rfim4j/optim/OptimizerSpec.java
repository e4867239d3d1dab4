package org.rfim4j.optim;

import java.util.Locale;

/**
 * A serialisable description of an optimizer: enough to rebuild it for a model (used by the CLI and by
 * checkpoints).
 *
 * @param name sgd, adam or rngd
 * @param learningRate learning rate
 * @param momentum SGD momentum (0 for plain SGD; ignored by the others)
 * @param rngd RNGD hyper-parameters (its learning rate is {@code learningRate}); null for sgd and adam
 */
public record OptimizerSpec(String name, double learningRate, double momentum, RngdConfig rngd) {

  public OptimizerSpec {
    name = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    if (!name.equals("sgd") && !name.equals("adam") && !name.equals("rngd")) {
      throw new IllegalArgumentException("unknown optimizer '" + name + "' (expected sgd, adam or rngd)");
    }
    Hyper.positive("learning rate", learningRate);
  }

  public static OptimizerSpec sgd(double lr) {
    return new OptimizerSpec("sgd", lr, 0, null);
  }

  public static OptimizerSpec adam(double lr) {
    return new OptimizerSpec("adam", lr, 0, null);
  }

  public static OptimizerSpec rngd(RngdConfig config) {
    return new OptimizerSpec("rngd", config.learningRate(), 0, config);
  }

  /** Builds the optimizer bound to {@code model}. */
  public Optimizer create(Trainable model) {
    switch (name) {
      case "sgd":
        return new Sgd(model, learningRate, momentum);
      case "adam":
        return new Adam(model, learningRate);
      default:
        RngdConfig c = rngd == null ? RngdConfig.defaults(learningRate) : rngd;
        if (c.learningRate() != learningRate) {
          c = c.withLearningRate(learningRate);
        }
        return new Rngd(model, c);
    }
  }

  /** "adam lr=0.001". */
  public String label() {
    return name + " lr=" + learningRate;
  }
}
