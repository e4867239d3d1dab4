package org.rfim4j.backend;

import java.util.Locale;

/**
 * Element-wise activation families with their parameters. The numeric definitions (f, f', and the
 * RFIM coefficient nu_f) live in {@link ActivationMath}; backends implement the same formulas.
 *
 * @param kind the family
 * @param iota PReLU negative slope (PRELU only), in [0, 1)
 * @param alpha ELU scale (ELU only), &gt; 0
 */
public record Activation(Kind kind, double iota, double alpha) {

  /** Activation families supported by the training engine. */
  public enum Kind {
    IDENTITY, TANH, SIGMOID, RELU, PRELU, ELU
  }

  public Activation {
    if (kind == null) {
      throw new IllegalArgumentException("activation kind must not be null");
    }
    if (kind == Kind.PRELU && !(iota >= 0 && iota < 1)) {
      throw new IllegalArgumentException("PReLU slope iota must be in [0, 1), got " + iota);
    }
    if (kind == Kind.ELU && !(alpha > 0)) {
      throw new IllegalArgumentException("ELU alpha must be > 0, got " + alpha);
    }
  }

  public static final Activation IDENTITY = new Activation(Kind.IDENTITY, 0, 0);
  public static final Activation TANH = new Activation(Kind.TANH, 0, 0);
  public static final Activation SIGMOID = new Activation(Kind.SIGMOID, 0, 0);
  public static final Activation RELU = new Activation(Kind.RELU, 0, 0);

  public static Activation prelu(double iota) {
    return new Activation(Kind.PRELU, iota, 0);
  }

  public static Activation elu(double alpha) {
    return new Activation(Kind.ELU, 0, alpha);
  }

  /** Slope used for negative inputs by the (P)ReLU families: 0 for RELU, iota for PRELU. */
  public double negativeSlope() {
    return kind == Kind.PRELU ? iota : 0.0;
  }

  /**
   * Parses {@code tanh}, {@code sigmoid}, {@code relu}, {@code identity}, {@code prelu} (iota given),
   * {@code elu} (alpha given).
   *
   * @throws IllegalArgumentException naming the unknown activation and the accepted names
   */
  public static Activation parse(String name, double iota, double alpha) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    switch (n) {
      case "identity":
      case "linear":
        return IDENTITY;
      case "tanh":
        return TANH;
      case "sigmoid":
        return SIGMOID;
      case "relu":
        return RELU;
      case "prelu":
        return prelu(iota);
      case "elu":
        return elu(alpha);
      default:
        throw new IllegalArgumentException(
            "unknown activation '" + name + "' (expected one of: relu, tanh, sigmoid, prelu, elu, identity)");
    }
  }

  @Override
  public String toString() {
    switch (kind) {
      case PRELU:
        return "prelu(iota=" + iota + ")";
      case ELU:
        return "elu(alpha=" + alpha + ")";
      default:
        return kind.name().toLowerCase(Locale.ROOT);
    }
  }
}
