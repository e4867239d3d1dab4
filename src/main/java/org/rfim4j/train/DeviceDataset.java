package org.rfim4j.train;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.data.Dataset;

/** A dataset uploaded once to the backend: features n x d and labels n x 1 (class indices as values). */
public final class DeviceDataset implements AutoCloseable {
  final Dataset host;
  final DeviceArray features;
  final DeviceArray labels;

  public DeviceDataset(Backend backend, Dataset data) {
    if (data.n() == 0) {
      throw new IllegalArgumentException("dataset " + data.name() + " is empty");
    }
    this.host = data;
    this.features = backend.allocate(data.n(), data.d());
    this.labels = backend.allocate(data.n(), 1);
    backend.upload(features, data.features());
    double[] y = new double[data.n()];
    for (int i = 0; i < y.length; i++) {
      y[i] = data.labels()[i];
    }
    backend.upload(labels, y);
  }

  public int size() {
    return host.n();
  }

  @Override
  public void close() {
    features.close();
    labels.close();
  }
}
