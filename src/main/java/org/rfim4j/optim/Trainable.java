package org.rfim4j.optim;

import java.util.List;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * What an optimizer is given by the model it trains: the trainable tensors with their gradients and, for RNGD,
 * each dense layer's input, pre-activations, weights and gradient from the last forward and backward pass.
 * Optimizers see nothing else of a model: {@code org.rfim4j.nn.Mlp} implements this interface, and any other
 * network code can too (or use {@link org.rfim4j.precond.RngdPreconditioner} directly).
 */
public interface Trainable {

  /** The backend that holds every array below. */
  Backend backend();

  /** The largest mini-batch a forward pass takes. */
  int maxBatch();

  /** Every trainable tensor, in a fixed order (the order of optimizer state and checkpoints). */
  List<Tensor> tensors();

  /** The dense layers, input layer first. */
  List<? extends Dense> denseLayers();

  /**
   * Runs the last training-mode forward pass again at the current weights, on the same input, without
   * updating running statistics (RNGD's step-first order observes the metric at the updated weights).
   */
  void forwardAgain();

  /**
   * A trainable tensor.
   *
   * @param name stable name (checkpoints, optimizer state names)
   * @param value the values
   * @param grad the gradient the last backward pass left
   * @param denseWeights whether this is a dense layer's (fan-in + 1) x fan-out weight matrix (RNGD
   *     preconditions those and steps every other tensor by plain SGD)
   */
  record Tensor(String name, DeviceArray value, DeviceArray grad, boolean denseWeights) {}

  /** One dense layer {@code A = [X, 1] W} as RNGD sees it. */
  interface Dense {
    /** The name of its weight tensor (also its id in the preconditioner). */
    String id();

    int fanIn();

    int fanOut();

    /** The hidden activation, or {@code null} for the output (softmax) layer. */
    Activation activation();

    /** X of the last forward pass (B x fan-in). */
    DeviceArray lastInput();

    /** A of the last forward pass (B x fan-out). */
    DeviceArray lastPreActivation();

    /** W, (fan-in + 1) x fan-out, bias as the last row. */
    DeviceArray weightValues();

    /** The gradient of W from the last backward pass (L2 term included). */
    DeviceArray weightGradient();
  }
}
