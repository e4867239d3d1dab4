package org.rfim4j.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.rfim4j.backend.Activation;

/**
 * What RNGD sees in a DJL {@link SequentialBlock}: the chain of {@link Linear} layers and the activation after
 * each hidden one, checked before anything is built. Accepted children, in order (nested
 * {@code SequentialBlock}s are flattened):
 * <ul>
 *   <li>optionally {@code Blocks.batchFlattenBlock()} or {@code Blocks.identityBlock()} before the first
 *       {@code Linear};</li>
 *   <li>{@code Linear} blocks with a bias, each hidden one followed by at most one activation:
 *       {@code Activation.reluBlock()}, {@code tanhBlock()}, {@code sigmoidBlock()},
 *       {@code leakyReluBlock(alpha)} (0 &lt;= alpha &lt; 1, rfim4j's PReLU), {@code eluBlock(alpha)} (alpha &gt; 0),
 *       {@code Blocks.identityBlock()} or nothing (identity);</li>
 *   <li>nothing after the last {@code Linear}: its outputs are the logits of the softmax cross-entropy loss.</li>
 * </ul>
 * Activations are recognised by the name DJL gives their {@link LambdaBlock} and confirmed by evaluating the
 * block at a few points (which also reads the slope of LeakyReLU and the scale of ELU, which DJL keeps inside
 * the lambda). Anything else is refused with an {@link IllegalArgumentException} naming the block.
 */
final class NetworkPlan {
  /** One Linear layer and the activation that follows it (null for the output layer). */
  record Layer(String id, String childName, Linear linear, Activation activation) {}

  private static final double[] PROBE = {-2, -1, -0.5, 0, 0.5, 1, 2};

  private final List<Layer> layers;
  /** The children in order, for rebuilding the block (Linear ones replaced by their recorder). */
  private final List<Block> children;

  private NetworkPlan(List<Layer> layers, List<Block> children) {
    this.layers = List.copyOf(layers);
    this.children = List.copyOf(children);
  }

  List<Layer> layers() {
    return layers;
  }

  List<Block> children() {
    return children;
  }

  /** A named child of the flattened sequence. */
  private record Child(String name, Block block) {}

  static NetworkPlan of(SequentialBlock net) {
    if (net == null) {
      throw new IllegalArgumentException("RNGD needs a SequentialBlock, got null");
    }
    List<Child> flat = new ArrayList<>();
    flatten("", net, flat);
    List<Layer> layers = new ArrayList<>();
    List<Block> children = new ArrayList<>();
    Linear pending = null;       // the last Linear, its activation not yet known
    String pendingName = null;
    for (Child c : flat) {
      Block b = c.block();
      if (b instanceof Linear) {
        Linear lin = (Linear) b;
        checkLinear(c.name(), lin);
        if (pending != null) {
          layers.add(new Layer("L" + (layers.size() + 1), pendingName, pending, Activation.IDENTITY));
        }
        pending = lin;
        pendingName = c.name();
        children.add(b);
        continue;
      }
      String kind = lambdaName(b);
      if (kind == null) {
        throw refuse(c, "it is neither a Linear block nor a named activation");
      }
      if (pending == null) {
        if (kind.equals("batchflatten") || kind.equals("identity")) {
          children.add(b);
          continue;
        }
        throw refuse(c, "only Blocks.batchFlattenBlock() or Blocks.identityBlock() may come before the first "
            + "Linear block");
      }
      Activation act = identify(c, kind);
      layers.add(new Layer("L" + (layers.size() + 1), pendingName, pending, act));
      // the activation closes the layer; the next block must be a Linear
      pending = null;
      pendingName = null;
      children.add(b);
      Child next = nextAfter(flat, c);
      if (next == null) {
        throw refuse(c, "an activation after the last Linear block: softmax cross-entropy takes the last "
            + "Linear block's outputs (the logits) directly");
      }
      if (!(next.block() instanceof Linear)) {
        throw refuse(next, "a block after the activation " + c.name() + " that is not a Linear block");
      }
    }
    if (pending == null) {
      throw new IllegalArgumentException("RNGD for DJL: the SequentialBlock has no Linear block"
          + (layers.isEmpty() ? "" : " after its last activation") + "; it must end with the Linear block whose "
          + "outputs are the logits");
    }
    layers.add(new Layer("L" + (layers.size() + 1), pendingName, pending, null));
    return new NetworkPlan(layers, children);
  }

  private static Child nextAfter(List<Child> flat, Child c) {
    int i = flat.indexOf(c);
    return i + 1 < flat.size() ? flat.get(i + 1) : null;
  }

  private static void flatten(String prefix, SequentialBlock seq, List<Child> out) {
    if (seq.isReturnIntermediate()) {
      throw new IllegalArgumentException("RNGD for DJL: SequentialBlock " + (prefix.isEmpty() ? "(the network)"
          : prefix) + " returns intermediate outputs (setReturnIntermediate(true)); the loss must see the logits"
          + " only");
    }
    for (var e : seq.getChildren()) {
      String name = prefix.isEmpty() ? e.getKey() : prefix + "/" + e.getKey();
      if (e.getValue() instanceof SequentialBlock) {
        flatten(name, (SequentialBlock) e.getValue(), out);
      } else {
        out.add(new Child(name, e.getValue()));
      }
    }
  }

  private static void checkLinear(String name, Linear lin) {
    Parameter w = lin.getDirectParameters().get("weight");
    Parameter b = lin.getDirectParameters().get("bias");
    if (w == null || b == null) {
      throw new IllegalArgumentException("RNGD for DJL: Linear block " + name + " has no bias (built with "
          + "optBias(false)); RNGD preconditions each layer's weights and bias jointly, bias as the last row of "
          + "W (MATH.md 8.2, A3)");
    }
    if (!w.requiresGradient() || !b.requiresGradient()) {
      throw new IllegalArgumentException("RNGD for DJL: Linear block " + name + " has a frozen parameter; every "
          + "weight and bias is trained by RNGD");
    }
  }

  /** The lower-cased name of a named LambdaBlock, or null. */
  private static String lambdaName(Block b) {
    if (!(b instanceof LambdaBlock) || b.getClass() != LambdaBlock.class) {
      return null;
    }
    String n = ((LambdaBlock) b).getName();
    if (n == null || LambdaBlock.DEFAULT_NAME.equals(n)) {
      return null;
    }
    return n.toLowerCase(Locale.ROOT);
  }

  private static IllegalArgumentException refuse(Child c, String why) {
    return new IllegalArgumentException("RNGD for DJL does not support block " + c.name() + " ("
        + describe(c.block()) + "): " + why + ". Supported: a SequentialBlock of Linear blocks (with bias) and "
        + "activations Activation.reluBlock(), tanhBlock(), sigmoidBlock(), leakyReluBlock(alpha), eluBlock(alpha), "
        + "Blocks.identityBlock(), with softmax cross-entropy on the last Linear block's outputs");
  }

  private static String describe(Block b) {
    if (b instanceof LambdaBlock) {
      String n = ((LambdaBlock) b).getName();
      return "LambdaBlock '" + n + "'" + (LambdaBlock.DEFAULT_NAME.equals(n)
          ? " (an unnamed lambda: use DJL's named activation blocks, e.g. Activation.reluBlock())" : "");
    }
    return b.getClass().getName();
  }

  /** The activation of a named LambdaBlock, confirmed numerically. */
  private static Activation identify(Child c, String kind) {
    double[] y;
    try {
      y = evaluate(c.block());
    } catch (RuntimeException e) {
      throw refuse(c, "evaluating it as an element-wise activation failed (" + e + ")");
    }
    Activation act;
    switch (kind) {
      case "relu":
        act = Activation.RELU;
        break;
      case "tanh":
        act = Activation.TANH;
        break;
      case "sigmoid":
        act = Activation.SIGMOID;
        break;
      case "identity":
        act = Activation.IDENTITY;
        break;
      case "leakyrelu": {
        double alpha = (float) -y[1];  // f(-1) = -alpha
        if (!(alpha >= 0 && alpha < 1)) {
          throw refuse(c, "LeakyReLU slope " + alpha + " is outside [0, 1), the slopes rfim4j's PReLU supports");
        }
        act = Activation.prelu(alpha);
        break;
      }
      case "elu": {
        // f(-1) = alpha (e^-1 - 1); DJL's alpha is a float, the probe's float32 output recovers it to rounding
        double alpha = (float) (y[1] / (Math.exp(-1) - 1));
        if (!(alpha > 0)) {
          throw refuse(c, "ELU scale " + alpha + " is not positive");
        }
        act = Activation.elu(alpha);
        break;
      }
      default:
        throw refuse(c, "'" + kind + "' is not an activation RNGD has a metric coefficient for");
    }
    for (int i = 0; i < PROBE.length; i++) {
      double want = reference(act, PROBE[i]);
      if (!(Math.abs(y[i] - want) <= 1e-5 * (1 + Math.abs(want)))) {
        throw refuse(c, "it is named like " + act + " but computes f(" + PROBE[i] + ") = " + y[i] + ", not " + want);
      }
    }
    return act;
  }

  private static double reference(Activation a, double x) {
    switch (a.kind()) {
      case RELU:
        return Math.max(0, x);
      case TANH:
        return Math.tanh(x);
      case SIGMOID:
        return 1 / (1 + Math.exp(-x));
      case PRELU:
        return x > 0 ? x : a.iota() * x;
      case ELU:
        return x > 0 ? x : a.alpha() * (Math.exp(x) - 1);
      default:
        return x;
    }
  }

  private static double[] evaluate(Block b) {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] xs = new float[PROBE.length];
      for (int i = 0; i < xs.length; i++) {
        xs[i] = (float) PROBE[i];
      }
      NDArray x = m.create(xs, new ai.djl.ndarray.types.Shape(1, xs.length));
      NDArray y = b.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow();
      float[] v = y.toFloatArray();
      if (v.length != xs.length) {
        throw new IllegalStateException("output has " + v.length + " values for " + xs.length + " inputs");
      }
      double[] out = new double[v.length];
      for (int i = 0; i < v.length; i++) {
        out[i] = v[i];
      }
      return out;
    }
  }
}
