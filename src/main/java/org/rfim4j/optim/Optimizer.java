package org.rfim4j.optim;

import java.util.Map;
import org.rfim4j.backend.DeviceArray;

/**
 * An optimizer is explicit state plus an update rule (as optax and torch.optim). It is bound to one model
 * at construction; {@link #step()} reads the gradients the model's backward pass left in its parameters.
 *
 * <p>The state is inspectable and checkpointable: {@link #state()} names every device array (moments,
 * metrics, inverses) and {@link #scalars()} the scalar state (iteration counter, damping factors).
 */
public interface Optimizer extends AutoCloseable {

  /** Short name: sgd, adam, rngd. */
  String name();

  /** Learning rate. */
  double learningRate();

  /** Applies one update to the model's parameters using their current gradients. */
  void step();

  /**
   * Whether the next {@link #step()} issues only device work without host readbacks, always the same
   * sequence (so a GPU backend may capture it into a CUDA graph). Default true.
   */
  default boolean nextStepCapturable() {
    return true;
  }

  /**
   * A name for the shape of the next {@link #step()}: steps of the same kind issue the same sequence of
   * backend calls, so a trainer keeps one captured graph per kind (RNGD: {@code rngd} and, every T steps,
   * {@code rngd-refresh}). Default: {@link #name()}.
   */
  default String nextStepKind() {
    return name();
  }

  /** Number of completed steps. */
  long iterations();

  /** Device arrays of the state, in a fixed order, by stable names. */
  Map<String, DeviceArray> state();

  /** Scalar state by stable names (at least {@code "iterations"}). */
  Map<String, Double> scalars();

  /** Restores scalar state previously returned by {@link #scalars()}. */
  void restoreScalars(Map<String, Double> scalars);

  /** Frees the state arrays. */
  @Override
  void close();
}
