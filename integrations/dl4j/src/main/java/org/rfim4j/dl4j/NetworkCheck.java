package org.rfim4j.dl4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.BackpropType;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.api.OptimizationAlgorithm;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.stepfunctions.NegativeGradientStepFunction;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.LayerSpec;
import org.rfim4j.precond.Nu;

/**
 * Checks that a {@link MultiLayerNetwork} is one RNGD supports and describes its layers: every layer but the
 * last a {@code DenseLayer} with a supported activation, the last a softmax {@code OutputLayer} with
 * multi-class cross-entropy, all with a bias, parameters in DL4J's flat layout (per layer W as fan-in x
 * fan-out in 'f' order, then the bias). With {@code training} it also checks what makes DL4J's own step the
 * RNGD step: plain SGD at the RNGD rate, no DL4J regularisation, no gradient normalisation, mini-batch
 * averaging, minimisation by stochastic gradient descent. Nothing is changed; the first problem found is an
 * {@link IllegalArgumentException} naming the layer and what is supported.
 */
final class NetworkCheck {
  private NetworkCheck() {}

  /** The activations a hidden layer may use. */
  static final String SUPPORTED_ACTIVATIONS =
      "relu, leakyrelu (alpha in [0, 1), preconditioned as prelu), tanh, sigmoid, identity, elu (alpha 1)";

  /** The layer structure RNGD supports. */
  static final String SUPPORTED_LAYERS = "DenseLayer hidden layers (activations: " + SUPPORTED_ACTIVATIONS
      + ") followed by one OutputLayer with softmax activation and MCXENT or NEGATIVELOGLIKELIHOOD loss";

  /** One dense layer as the integration sees it. */
  record Dense(int index, String name, int fanIn, int fanOut, long wOffset, long bOffset, IActivation activation,
      LayerSpec spec) {
    /** "layer 1 ('hidden2', 80 x 80)". */
    String describe() {
      return "layer " + index + " ('" + name + "', " + fanIn + " x " + fanOut + ")";
    }
  }

  static String where(int index, Layer conf) {
    String name = conf == null || conf.getLayerName() == null ? String.valueOf(index) : conf.getLayerName();
    return "layer " + index + " ('" + name + "', " + (conf == null ? "?" : conf.getClass().getSimpleName()) + ")";
  }

  /** Validates {@code net} and returns its layers with their preconditioner specs. */
  static List<Dense> inspect(MultiLayerNetwork net, RngdConfig config, boolean training) {
    if (net == null || config == null) {
      throw new IllegalArgumentException("Rngd4j.attach needs a network and an RngdConfig");
    }
    if (net.getLayers() == null || net.params() == null) {
      throw new IllegalArgumentException("the network is not initialised: call net.init() before Rngd4j.attach");
    }
    MultiLayerConfiguration mlc = net.getLayerWiseConfigurations();
    int layers = net.getnLayers();
    if (mlc.getBackpropType() != BackpropType.Standard) {
      throw new IllegalArgumentException("backprop type " + mlc.getBackpropType()
          + " is not supported: RNGD for DL4J needs BackpropType.Standard");
    }
    if (mlc.getDataType() != DataType.FLOAT || net.params().dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException("the network's data type is " + net.params().dataType()
          + ": RNGD for DL4J supports FLOAT networks (NeuralNetConfiguration.Builder().dataType(DataType.FLOAT))");
    }
    List<Dense> out = new ArrayList<>();
    long offset = 0;
    for (int l = 0; l < layers; l++) {
      Layer conf = mlc.getConf(l).getLayer();
      String where = where(l, conf);
      boolean last = l == layers - 1;
      if (last) {
        if (conf.getClass() != OutputLayer.class) {
          throw new IllegalArgumentException(where + " is not supported as the last layer: RNGD for DL4J supports "
              + SUPPORTED_LAYERS);
        }
      } else if (conf.getClass() != DenseLayer.class) {
        throw new IllegalArgumentException(where + " is not supported: RNGD for DL4J supports " + SUPPORTED_LAYERS);
      }
      if (mlc.getInputPreProcess(l) != null) {
        throw new IllegalArgumentException(where + " has an input preprocessor ("
            + mlc.getInputPreProcess(l).getClass().getSimpleName() + "): not supported; RNGD for DL4J supports "
            + SUPPORTED_LAYERS + ", without preprocessors");
      }
      BaseLayer base = (BaseLayer) conf;
      if (conf.getIDropout() != null) {
        throw new IllegalArgumentException(where + " uses dropout (" + conf.getIDropout()
            + "): not supported by RNGD for DL4J (the metric must see the same forward pass as the gradient)");
      }
      if (base.getWeightNoise() != null) {
        throw new IllegalArgumentException(where + " uses weight noise: not supported by RNGD for DL4J");
      }
      if (conf.getConstraints() != null && !conf.getConstraints().isEmpty()) {
        throw new IllegalArgumentException(where + " has parameter constraints " + conf.getConstraints()
            + ": not supported by RNGD for DL4J (they change the weights after the step)");
      }
      boolean hasBias = last ? ((OutputLayer) conf).hasBias() : ((DenseLayer) conf).hasBias();
      if (!hasBias) {
        throw new IllegalArgumentException(where + " has no bias: RNGD preconditions weights and bias jointly "
            + "(bias as the last row of W, MATH.md A3); build the layer with hasBias(true)");
      }
      if (!last && ((DenseLayer) conf).hasLayerNorm()) {
        throw new IllegalArgumentException(where + " uses layer normalisation: not supported by RNGD for DL4J");
      }
      IActivation act = base.getActivationFn();
      Nu nu = null;
      if (last) {
        if (!(act instanceof ActivationSoftmax)) {
          throw new IllegalArgumentException(where + " has activation " + act + ": the output layer must be softmax "
              + "with MCXENT or NEGATIVELOGLIKELIHOOD loss");
        }
        ILossFunction loss = ((OutputLayer) conf).getLossFn();
        if (!(loss instanceof LossMCXENT)) {
          throw new IllegalArgumentException(where + " has loss " + loss + ": RNGD for DL4J supports multi-class "
              + "cross-entropy (LossFunction.MCXENT or NEGATIVELOGLIKELIHOOD) with a softmax output layer");
        }
        if (((LossMCXENT) loss).getWeights() != null) {
          throw new IllegalArgumentException(where + " has a weighted loss " + loss
              + ": RNGD for DL4J supports unweighted multi-class cross-entropy");
        }
      } else {
        nu = nuOf(act, where);
      }
      if (training) {
        checkTraining(l, where, base, config);
      }
      NeuralNetConfiguration nnc = mlc.getConf(l);
      checkSolver(where, nnc);
      long fanIn = ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) conf).getNIn();
      long fanOut = ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) conf).getNOut();
      if (fanIn < 1 || fanOut < 1 || (fanIn + 1) * fanOut > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(where + " has nIn " + fanIn + ", nOut " + fanOut
            + ": not supported (each must be >= 1 and (nIn + 1) x nOut fit one array)");
      }
      if (!out.isEmpty() && out.get(out.size() - 1).fanOut() != fanIn) {
        throw new IllegalArgumentException(where + " has nIn " + fanIn + " but the layer before has nOut "
            + out.get(out.size() - 1).fanOut());
      }
      long wOff = offset;
      long bOff = offset + fanIn * fanOut;
      checkParams(net, l, where, (int) fanIn, (int) fanOut, wOff, bOff);
      offset = bOff + fanOut;
      MetricKind kind;
      try {
        kind = config.kindOf(l, layers);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("RngdConfig metric kinds do not fit the network of " + layers
            + " layers: " + e.getMessage(), e);
      }
      String name = conf.getLayerName() == null ? String.valueOf(l) : conf.getLayerName();
      String id = "layer" + l;
      LayerSpec spec;
      if (kind == MetricKind.SHARED) {
        spec = LayerSpec.shared(id, (int) fanIn, (int) fanOut);
      } else {
        // As rfim4j's own Rngd: a per-neuron softmax layer takes the identity coefficient.
        spec = LayerSpec.perNeuron(id, (int) fanIn, (int) fanOut, last ? Nu.identity() : nu);
      }
      out.add(new Dense(l, name, (int) fanIn, (int) fanOut, wOff, bOff, act, spec));
    }
    if (offset != net.numParams()) {
      throw new IllegalArgumentException("the network has " + net.numParams() + " parameters, its layers "
          + offset + ": not a plain DenseLayer/OutputLayer network");
    }
    checkSolver("the network", net.conf());
    return out;
  }

  /** The nu family of a supported hidden activation, else an exception naming the layer. */
  static Nu nuOf(IActivation act, String where) {
    if (act instanceof ActivationReLU) {
      ActivationReLU r = (ActivationReLU) act;
      if (isSet(r.getMax()) || isSet(r.getThreshold()) || isSet(r.getNegativeSlope())) {
        throw new IllegalArgumentException(where + " uses a ReLU with max/threshold/negative slope (" + act
            + "): not supported; supported activations: " + SUPPORTED_ACTIVATIONS);
      }
      return Nu.relu();
    }
    if (act instanceof ActivationLReLU) {
      double alpha = ((ActivationLReLU) act).getAlpha();
      if (!(alpha >= 0 && alpha < 1)) {
        throw new IllegalArgumentException(where + " uses leakyrelu with alpha " + alpha
            + ": RNGD's prelu coefficient needs a slope in [0, 1)");
      }
      return Nu.prelu(alpha);
    }
    if (act instanceof ActivationTanH) {
      return Nu.tanh();
    }
    if (act instanceof ActivationSigmoid) {
      return Nu.sigmoid();
    }
    if (act instanceof ActivationIdentity) {
      return Nu.identity();
    }
    if (act instanceof ActivationELU) {
      double alpha = ((ActivationELU) act).getAlpha();
      if (alpha != 1.0) {
        // ActivationELU.backprop calls EluBp without alpha, i.e. with 1.0: the gradient is not the forward's.
        throw new IllegalArgumentException(where + " uses elu with alpha " + alpha + ": not supported; "
            + "DL4J 1.0.0-M2.1's ELU backward pass uses alpha = 1 whatever the configured alpha, so its gradient "
            + "is not that of its forward pass; use elu with alpha 1 (Activation.ELU)");
      }
      return Nu.elu(alpha);
    }
    throw new IllegalArgumentException(where + " has activation " + act + ": not supported; supported activations: "
        + SUPPORTED_ACTIVATIONS);
  }

  private static boolean isSet(Double v) {
    return v != null && v != 0.0;
  }

  private static void checkTraining(int l, String where, BaseLayer base, RngdConfig config) {
    if (hasAny(base.getRegularization()) || hasAny(base.getRegularizationBias())) {
      throw new IllegalArgumentException(where + " has DL4J regularisation (weights " + base.getRegularization()
          + ", bias " + base.getRegularizationBias() + "): DL4J would add it after RNGD preconditioned the "
          + "gradient. Remove l1/l2/weightDecay from the DL4J configuration and pass the L2 coefficient to "
          + "Rngd4j.Options.l2(beta) instead; RNGD then adds beta * W (not the bias) before preconditioning");
    }
    GradientNormalization gn = base.getGradientNormalization();
    if (gn != null && gn != GradientNormalization.None) {
      throw new IllegalArgumentException(where + " uses gradient normalisation " + gn
          + ": not supported by RNGD for DL4J (it would rescale the preconditioned step)");
    }
    for (String param : new String[] {"W", "b"}) {
      IUpdater u = base.getUpdaterByParam(param);
      if (!(u instanceof Sgd)) {
        throw new IllegalArgumentException(where + " parameter " + param + " uses updater " + u
            + ": RNGD for DL4J needs DL4J's plain Sgd with the RNGD learning rate, new Sgd("
            + config.learningRate() + ") (DL4J then applies the rate once, to the preconditioned gradient)");
      }
      Sgd sgd = (Sgd) u;
      if (sgd.getLearningRateSchedule() != null) {
        throw new IllegalArgumentException(where + " parameter " + param + " uses an Sgd learning-rate schedule: "
            + "RNGD for DL4J needs a fixed rate, new Sgd(" + config.learningRate() + ")");
      }
      double lr = sgd.getLearningRate();
      if (!(Math.abs(lr - config.learningRate()) <= 1e-12 * Math.abs(config.learningRate()))) {
        throw new IllegalArgumentException(where + " parameter " + param + " uses Sgd(" + lr
            + ") but the RNGD configuration's rate is " + config.learningRate()
            + ": they must agree (DL4J's Sgd applies the rate to the preconditioned gradient)");
      }
    }
  }

  private static void checkSolver(String where, NeuralNetConfiguration nnc) {
    if (nnc.getOptimizationAlgo() != OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT) {
      throw new IllegalArgumentException(where + " uses optimisation algorithm " + nnc.getOptimizationAlgo()
          + ": RNGD for DL4J needs STOCHASTIC_GRADIENT_DESCENT (one gradient per step)");
    }
    if (!nnc.isMiniBatch()) {
      throw new IllegalArgumentException(where + " has miniBatch(false): RNGD for DL4J needs the gradient of the "
          + "mean loss over the mini-batch (miniBatch(true), DL4J's default)");
    }
    if (!nnc.isMinimize()) {
      throw new IllegalArgumentException(where + " maximises its objective: RNGD for DL4J minimises the loss");
    }
    if (nnc.getStepFunction() != null && !(nnc.getStepFunction() instanceof NegativeGradientStepFunction)) {
      throw new IllegalArgumentException(where + " uses step function " + nnc.getStepFunction()
          + ": RNGD for DL4J needs the default (NegativeGradientStepFunction)");
    }
  }

  private static boolean hasAny(List<?> l) {
    return l != null && !l.isEmpty();
  }

  /** The layer's parameters are W (fan-in x fan-out, 'f' order) then b, at the expected flat offsets. */
  private static void checkParams(MultiLayerNetwork net, int l, String where, int fanIn, int fanOut, long wOff,
      long bOff) {
    Map<String, INDArray> table = net.getLayer(l).paramTable();
    if (table.size() != 2 || !table.containsKey("W") || !table.containsKey("b")) {
      throw new IllegalArgumentException(where + " has parameters " + table.keySet() + ", expected [W, b]");
    }
    INDArray w = table.get("W");
    INDArray b = table.get("b");
    boolean wOk = w.rank() == 2 && w.size(0) == fanIn && w.size(1) == fanOut && w.ordering() == 'f'
        && w.stride(0) == 1 && w.stride(1) == fanIn && w.data().offset() == wOff;
    boolean bOk = b.length() == fanOut && b.data().offset() == bOff
        && (b.rank() == 1 || b.elementWiseStride() == 1);
    if (!wOk || !bOk) {
      throw new IllegalArgumentException(where + ": parameters are not in DL4J's usual flat layout (W " + fanIn
          + " x " + fanOut + " in 'f' order at offset " + wOff + ", then b at " + bOff + "); got W "
          + w.shapeInfoToString().replace('\n', ' ') + " at " + (w.data().offset()) + ", b at "
          + (b.data().offset()));
    }
  }
}
