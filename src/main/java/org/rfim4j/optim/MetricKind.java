package org.rfim4j.optim;

/** How RNGD represents a layer's metric (MATH.md 8.1). */
public enum MetricKind {
  /** One linear-layer RFIM (fan-in+1)^2 shared by all neurons of the layer: G = EMA of mean h~ h~^T. */
  SHARED,
  /** One (fan-in+1)^2 RFIM per neuron: G_i = EMA of mean nu_i h~ h~^T. */
  PER_NEURON
}
