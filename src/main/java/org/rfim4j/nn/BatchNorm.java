package org.rfim4j.nn;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * Batch normalisation of a hidden layer's activations (BNA architecture, MATH.md 8.4): learnable scale
 * (init 1) and shift (init 0), running mean and variance for inference.
 */
public final class BatchNorm implements AutoCloseable {
  final Parameter scale;
  final Parameter shift;
  final DeviceArray runningMean;
  final DeviceArray runningVar;
  final DeviceArray mean;
  final DeviceArray invStd;
  final DeviceArray output;
  final DeviceArray dInput;
  final double momentum;
  final double eps;

  BatchNorm(Backend backend, int layer, int width, int maxBatch, double momentum, double eps) {
    this.scale = new Parameter("bn" + (layer + 1) + ".gamma", ParameterRole.BN_SCALE, layer,
        backend.allocate(1, width), backend.allocate(1, width));
    this.shift = new Parameter("bn" + (layer + 1) + ".beta", ParameterRole.BN_SHIFT, layer,
        backend.allocate(1, width), backend.allocate(1, width));
    backend.fill(scale.value(), 1.0);
    this.runningMean = backend.allocate(1, width);
    this.runningVar = backend.allocate(1, width);
    backend.fill(runningVar, 1.0);
    this.mean = backend.allocate(1, width);
    this.invStd = backend.allocate(1, width);
    this.output = backend.allocate(maxBatch, width);
    this.dInput = backend.allocate(maxBatch, width);
    this.momentum = momentum;
    this.eps = eps;
  }

  public Parameter scale() {
    return scale;
  }

  public Parameter shift() {
    return shift;
  }

  public DeviceArray runningMean() {
    return runningMean;
  }

  public DeviceArray runningVar() {
    return runningVar;
  }

  @Override
  public void close() {
    for (DeviceArray a : new DeviceArray[] {scale.value(), scale.grad(), shift.value(), shift.grad(),
        runningMean, runningVar, mean, invStd, output, dInput}) {
      a.close();
    }
  }
}
