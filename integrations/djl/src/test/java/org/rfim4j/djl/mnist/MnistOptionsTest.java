package org.rfim4j.djl.mnist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The launcher's options. */
class MnistOptionsTest {
  @Test
  void defaultsAndOverrides() {
    Mnist.Options d = Mnist.parse(new String[0]);
    assertEquals(List.of("sgd", "adam", "rngd"), d.optimizers);
    assertEquals(0.1, d.lr.get("sgd"));
    assertEquals(1e-3, d.lr.get("adam"));
    assertEquals(0.03, d.lr.get("rngd"));
    assertEquals(1, d.seed);
    Mnist.Options o = Mnist.parse(new String[] {"--epochs", "2", "--optimizers", "rngd,adam", "--lr=rngd=0.1",
        "--seed", "7"});
    assertEquals(2, o.epochs);
    assertEquals(List.of("rngd", "adam"), o.optimizers);
    assertEquals(0.1, o.lr.get("rngd"));
    assertEquals(1e-3, o.lr.get("adam"));
    assertEquals(7, o.seed);
  }

  @Test
  void badInputIsRefusedByName() {
    for (String[] bad : new String[][] {{"--epochs", "0"}, {"--optimizers", "sgd,lbfgs"}, {"--lr", "rngd=-1"},
        {"--lr", "momentum=0.9"}, {"--seed", "x"}, {"--frobnicate"}, {"--epochs"}}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Mnist.parse(bad));
      assertTrue(e.getMessage().contains(bad[0].split("=")[0]) || e.getMessage().contains("lbfgs"), e.getMessage());
    }
  }
}
