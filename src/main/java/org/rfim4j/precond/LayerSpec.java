package org.rfim4j.precond;

import java.util.Objects;
import org.rfim4j.optim.MetricKind;

/**
 * One preconditioned layer {@code A = [X, 1] W}: W is (fan-in + 1) x fan-out with the bias as its last row
 * (MATH.md section 1), its relative Fisher metric either one shared linear-layer metric
 * ((fan-in + 1)^2, MATH.md 4.1) or one metric per neuron (fan-out matrices of (fan-in + 1)^2, 4.2).
 *
 * @param id the layer's name, unique within a preconditioner (used in every error message and in saved state)
 * @param fanIn inputs of the layer (without the constant 1)
 * @param fanOut neurons of the layer
 * @param kind SHARED or PER_NEURON
 * @param nu where a per-neuron metric's coefficients come from; ignored (may be null) for SHARED
 */
public record LayerSpec(String id, int fanIn, int fanOut, MetricKind kind, Nu nu) {

  /**
   * Checks the layer: a non-blank id, positive sizes, a nu family for per-neuron metrics, and a metric that fits
   * one array; a shared layer drops its nu.
   *
   * @throws IllegalArgumentException naming the layer and the problem
   */
  public LayerSpec {
    if (id == null || id.isBlank()) {
      throw new IllegalArgumentException("layer id must not be blank");
    }
    if (fanIn < 1 || fanOut < 1) {
      throw new IllegalArgumentException("layer '" + id + "': fan-in and fan-out must be >= 1, got " + fanIn
          + " x " + fanOut);
    }
    Objects.requireNonNull(kind, "layer '" + id + "': metric kind");
    if (kind == MetricKind.PER_NEURON && nu == null) {
      throw new IllegalArgumentException("layer '" + id + "': a per-neuron metric needs a nu family");
    }
    long d = fanIn + 1L;
    long floats = kind == MetricKind.SHARED ? d * d : d * d * fanOut;
    if (floats > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("layer '" + id + "': its metric needs " + floats
          + " elements (" + (kind == MetricKind.SHARED ? "" : fanOut + " x ") + d + " x " + d
          + "), more than one array can hold (" + Integer.MAX_VALUE + ")");
    }
    if (kind == MetricKind.SHARED) {
      nu = null;
    }
  }

  /** A layer with one shared linear-layer metric (the paper's choice for input and softmax layers). */
  public static LayerSpec shared(String id, int fanIn, int fanOut) {
    return new LayerSpec(id, fanIn, fanOut, MetricKind.SHARED, null);
  }

  /** A layer with one metric per neuron, coefficients from {@code nu}. */
  public static LayerSpec perNeuron(String id, int fanIn, int fanOut, Nu nu) {
    return new LayerSpec(id, fanIn, fanOut, MetricKind.PER_NEURON, nu);
  }

  /** Rows of the gradient and of each metric: fan-in + 1. */
  public int dim() {
    return fanIn + 1;
  }

  /** Number of metric matrices: 1 (shared) or fan-out (per neuron). */
  public int matrices() {
    return kind == MetricKind.SHARED ? 1 : fanOut;
  }

  /** "W2 (80+1) x 80, per-neuron relu". */
  public String describe() {
    return id + " (" + fanIn + "+1) x " + fanOut + ", "
        + (kind == MetricKind.SHARED ? "shared" : "per-neuron " + nu);
  }
}
