package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Family parsing and a few closed-form values from MATH.md section 3. */
class NeuronFamilyTest {

  @Test
  void unknownNameIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NeuronFamily.of("swish", Map.of()));
    assertTrue(e.getMessage().contains("swish"), e.getMessage());
  }

  @Test
  void missingParameterIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> NeuronFamily.of("prelu_smooth", Map.of("iota", 0.2)));
    assertTrue(e.getMessage().contains("omega"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> NeuronFamily.of("elu", Map.of()));
    assertTrue(e.getMessage().contains("alpha"), e.getMessage());
  }

  @Test
  void badParametersRejected() {
    assertThrows(IllegalArgumentException.class, () -> NeuronFamily.of("elu", Map.of("alpha", -1.0)));
    assertThrows(IllegalArgumentException.class, () -> NeuronFamily.of("prelu_exact", Map.of("iota", 1.0)));
    assertThrows(IllegalArgumentException.class, () -> NeuronFamily.of("relu_exact", Map.of("iota", 0.3)));
    assertThrows(IllegalArgumentException.class, () -> NeuronFamily.of("tanh", Map.of("alpha", 1.0)));
    assertThrows(IllegalArgumentException.class,
        () -> NeuronFamily.of("relu_smooth", Map.of("omega", Double.NaN)));
  }

  @Test
  void documentedValues() {
    // MATH.md section 3 item 2: ReLU smoothed at omega = 1 has nu = sigm(a)^2
    NeuronFamily relu = NeuronFamily.of("relu_smooth", Map.of("omega", 1.0));
    assertEquals(0.25, relu.nu(0), 1e-15);
    assertEquals(0.0142, relu.nu(-2), 5e-5);
    assertEquals(0.776, relu.nu(2), 5e-4);
    // PReLU smoothed nu(0) = ((1+iota)/2)^2
    assertEquals(Math.pow(1.25 / 2, 2), NeuronFamily.of("prelu_smooth", Map.of("iota", 0.25, "omega", 0.3)).nu(0), 1e-15);
    // Gaussian tanh: ratio to the Bernoulli nu at a = 1.27 is 0.271
    double ratio = NeuronFamily.of("tanh_gauss").nu(1.27) / NeuronFamily.of("tanh").nu(1.27);
    assertEquals(0.271, ratio, 5e-4);
    // sech^2 stays accurate where cosh overflows
    assertEquals(0.0, NeuronFamily.of("tanh").nu(800), 0.0);
    assertTrue(NeuronFamily.of("tanh").nu(20) > 0);
    // sigma scales Gaussian nu by 1/sigma^2
    assertEquals(1 / 0.49, NeuronFamily.of("identity").withSigma(0.7).nu(3.0), 1e-14);
  }
}
