package org.rfim4j.data;

import java.util.Arrays;
import java.util.Objects;

/**
 * A dense labelled dataset held in memory.
 *
 * @param name a short name for messages and logs, e.g. {@code "mnist/train"}
 * @param features {@code n x d} values, row-major: example {@code i} is {@code features[i*d .. i*d+d)}.
 *     Images are scaled to {@code [0, 1]} (pixel / 255).
 * @param labels {@code n} class indices, each in {@code [0, classes)}
 * @param n number of examples
 * @param d number of features per example (784 for MNIST)
 * @param classes number of classes (10 for MNIST)
 */
public record Dataset(String name, float[] features, int[] labels, int n, int d, int classes) {

  public Dataset {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(features, "features");
    Objects.requireNonNull(labels, "labels");
    if (n < 0 || d <= 0 || classes <= 0) {
      throw new IllegalArgumentException(
          "dataset " + name + ": need n >= 0, d > 0, classes > 0; got n=" + n + ", d=" + d + ", classes=" + classes);
    }
    if (labels.length != n) {
      throw new IllegalArgumentException("dataset " + name + ": " + labels.length + " labels for n=" + n);
    }
    if ((long) n * d != features.length) {
      throw new IllegalArgumentException(
          "dataset " + name + ": " + features.length + " feature values for n=" + n + " x d=" + d);
    }
  }

  /**
   * Examples {@code [from, to)} as a new dataset with copied arrays, named {@code name[from:to)}.
   *
   * @throws IndexOutOfBoundsException unless {@code 0 <= from <= to <= n}
   */
  public Dataset subset(int from, int to) {
    return subset(from, to, name + "[" + from + ":" + to + ")");
  }

  /** Examples {@code [from, to)} as a new dataset with copied arrays and the given name. */
  public Dataset subset(int from, int to, String newName) {
    Objects.checkFromToIndex(from, to, n);
    return new Dataset(
        newName,
        Arrays.copyOfRange(features, from * d, to * d),
        Arrays.copyOfRange(labels, from, to),
        to - from,
        d,
        classes);
  }

  /** Number of examples of each class, indexed by class. */
  public int[] classCounts() {
    int[] counts = new int[classes];
    for (int y : labels) {
      counts[y]++;
    }
    return counts;
  }

  @Override
  public String toString() {
    return "Dataset[" + name + ", n=" + n + ", d=" + d + ", classes=" + classes + "]";
  }
}
