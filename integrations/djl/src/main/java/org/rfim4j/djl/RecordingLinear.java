package org.rfim4j.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.nio.FloatBuffer;

/**
 * A DJL {@link Linear} block that, in every training-mode forward pass, copies its input X (B x fan-in) and its
 * output A = X W^T + b (the pre-activations, B x fan-out) to the host, where {@link RngdOptimizer} reads them
 * to update the layer's relative Fisher metric (MATH.md 8.2, step 3). Inference-mode passes
 * ({@code trainer.evaluate}, predictors) record nothing and cost nothing extra.
 *
 * <p>The wrapped {@code Linear} keeps its parameters, initialiser and serialised form; this block adds no
 * parameter. {@link RngdDjl#block()} puts one around each {@code Linear} of the network it was built for.
 */
public final class RecordingLinear extends AbstractBlock {
  private static final byte VERSION = 1;

  private final String layerId;
  private final Linear linear;
  private final StepTimings timings;
  private FloatBuffer input = FloatBuffer.allocate(0);
  private FloatBuffer output = FloatBuffer.allocate(0);
  private int batch;
  private int fanIn;
  private int fanOut;
  private long recordings;

  RecordingLinear(String layerId, Linear linear, StepTimings timings) {
    super(VERSION);
    this.layerId = layerId;
    this.linear = addChildBlock("linear", linear);
    this.timings = timings;
  }

  /** The layer's id in the preconditioner ({@code L1}, {@code L2}, ...). */
  public String layerId() {
    return layerId;
  }

  /** The wrapped block. */
  public Linear linear() {
    return linear;
  }

  @Override
  protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
      PairList<String, Object> params) {
    NDList out = linear.forward(parameterStore, inputs, training, params);
    if (training) {
      record(inputs.singletonOrThrow(), out.singletonOrThrow());
    }
    return out;
  }

  private void record(NDArray x, NDArray a) {
    long t0 = System.nanoTime();
    Shape xs = x.getShape();
    Shape as = a.getShape();
    if (xs.dimension() != 2 || as.dimension() != 2 || xs.get(0) != as.get(0)) {
      throw new IllegalArgumentException("RNGD layer " + layerId + " (" + linear.getClass().getSimpleName()
          + "): needs a 2-D input (batch x features), got input " + xs + " and output " + as
          + "; flatten the data first (Blocks.batchFlattenBlock())");
    }
    if (x.getDataType() != DataType.FLOAT32 || a.getDataType() != DataType.FLOAT32) {
      throw new IllegalArgumentException("RNGD layer " + layerId + ": float32 arrays expected, got "
          + x.getDataType() + " input and " + a.getDataType() + " output");
    }
    input = x.toByteBuffer().asFloatBuffer();   // heap copies, one each
    output = a.toByteBuffer().asFloatBuffer();
    batch = Math.toIntExact(xs.get(0));
    fanIn = Math.toIntExact(xs.get(1));
    fanOut = Math.toIntExact(as.get(1));
    recordings++;
    timings.add(StepTimings.Part.RECORD, System.nanoTime() - t0);
  }

  /** The input of the last training forward pass, B x fan-in, row-major (the buffer itself: do not modify). */
  FloatBuffer recordedInput() {
    return input;
  }

  /** The pre-activations of the last training forward pass, B x fan-out, row-major. */
  FloatBuffer recordedPreActivations() {
    return output;
  }

  int recordedBatch() {
    return batch;
  }

  int recordedFanIn() {
    return fanIn;
  }

  int recordedFanOut() {
    return fanOut;
  }

  /** Training forward passes recorded so far. */
  long recordings() {
    return recordings;
  }

  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    linear.initialize(manager, dataType, inputShapes);
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return linear.getOutputShapes(inputShapes);
  }

  @Override
  public String toString() {
    return "RecordingLinear(" + layerId + ", " + linear + ")";
  }
}
