package org.rfim4j.djl;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Wall-clock time spent by the RNGD integration, by part, since construction or the last {@link #reset()}:
 * what crossing the DJL/rfim4j boundary costs and what rfim4j's metric work costs. DJL's own forward and
 * backward passes are not in here (time them around {@code trainer.forward} and {@code backward}).
 *
 * <p>Driven by the training thread only; reading from another thread gives approximate figures.
 */
public final class StepTimings {
  /** Where the time goes. */
  public enum Part {
    /** Training forward passes: copying each Linear's input and pre-activations to the host. */
    RECORD("copy inputs and pre-activations to the host (forward)"),
    /** Gradients and weights to the host, packed into rfim4j's layout, L2 term added. */
    GRADIENTS("copy gradients and weights to the host, pack, add L2"),
    /** rfim4j: metric moving averages, and the inverse refresh every T steps. */
    METRIC("rfim4j: metric update (and inverse refresh every T steps)"),
    /** rfim4j: G^-1 grad. */
    PRECONDITION("rfim4j: G^-1 grad"),
    /** Unpack, copy the step back into DJL and apply it to the parameters. */
    APPLY("copy the step back to DJL and apply it");

    private final String description;

    Part(String description) {
      this.description = description;
    }

    public String description() {
      return description;
    }
  }

  private final long[] nanos = new long[Part.values().length];
  private long steps;

  void add(Part part, long ns) {
    nanos[part.ordinal()] += ns;
  }

  void countStep() {
    steps++;
  }

  /** Optimizer steps completed since the last reset. */
  public long steps() {
    return steps;
  }

  /** Seconds spent in {@code part}. */
  public double seconds(Part part) {
    return nanos[part.ordinal()] * 1e-9;
  }

  /** Seconds per part, in {@link Part} order. */
  public Map<Part, Double> snapshot() {
    Map<Part, Double> m = new EnumMap<>(Part.class);
    for (Part p : Part.values()) {
      m.put(p, seconds(p));
    }
    return m;
  }

  /** Total seconds over every part. */
  public double totalSeconds() {
    long s = 0;
    for (long n : nanos) {
      s += n;
    }
    return s * 1e-9;
  }

  public void reset() {
    java.util.Arrays.fill(nanos, 0);
    steps = 0;
  }

  /** One line per part: seconds and milliseconds per step. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    for (Part p : Part.values()) {
      sb.append(String.format(Locale.ROOT, "%-13s %8.3f s  %7.3f ms/step  %s%n", p.name().toLowerCase(Locale.ROOT),
          seconds(p), steps == 0 ? 0.0 : seconds(p) * 1e3 / steps, p.description()));
    }
    return sb.toString();
  }
}
