package org.rfim4j.data;

import java.util.Objects;

/**
 * A dataset split three ways: {@code train} to fit on, {@code validation} to tune on, {@code test} to report.
 * All three have the same {@code d} and {@code classes}.
 */
public record Split(Dataset train, Dataset validation, Dataset test) {

  public Split {
    Objects.requireNonNull(train, "train");
    Objects.requireNonNull(validation, "validation");
    Objects.requireNonNull(test, "test");
    for (Dataset other : new Dataset[] {validation, test}) {
      if (other.d() != train.d() || other.classes() != train.classes()) {
        throw new IllegalArgumentException("split parts disagree: " + train + " vs " + other);
      }
    }
  }
}
