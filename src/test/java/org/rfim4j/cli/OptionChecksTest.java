package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rfim4j.backend.cuda.CudaProbe;
import org.rfim4j.testutil.Synthetic;

/**
 * Issue 16, finding 8: every option value is validated even when the run does not use it, an option without
 * effect for the chosen optimizer, activation or architecture is named in a note, {@code --epochs 0} fails before
 * the data is read, and {@code --device cuda} without a GPU is one line (the diagnosis is {@code rfim4j doctor}).
 */
class OptionChecksTest {
  @TempDir static Path tmp;
  static Path data;

  @BeforeAll
  static void data() throws IOException {
    data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_040, 10, 2);
  }

  static List<String> train(String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--data-dir", data.toString(), "--device", "cpu", "--quiet",
        "--epochs", "1", "--train-size", "40", "--hidden", "4", "--batch", "20"));
    a.addAll(List.of(extra));
    return a;
  }

  static String error(List<String> args) {
    return BadInputTest.expectOneLineError(args.toArray(String[]::new));
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(delimiter = '|', value = {
      "--iota|NaN|--activation relu",
      "--iota|1.5|--activation tanh",
      "--alpha|-1|--activation relu",
      "--alpha|NaN|--activation relu",
      "--rngd-lambda|5|--optimizer adam",
      "--rngd-T|0|--optimizer sgd",
      "--rngd-omega|-1|--optimizer adam",
      "--rngd-eps|-1|--optimizer adam",
      "--rngd-damping|bogus|--optimizer adam",
      "--rngd-order|bogus|--optimizer sgd",
      "--rngd-metrics|shared,bogus|--optimizer adam",
      "--momentum|1.5|--optimizer adam",
      "--momentum|NaN|--optimizer sgd",
      "--bn-momentum|2|--arch plain",
      "--l2|NaN|--arch plain",
      "--init-std|-1|--arch plain",
      "--device|gpu7|--arch plain",
      "--cuda-graphs|maybe|--arch plain",
      "--train-size|0|--arch plain",
      "--precision|16|--arch plain",
      "--lr|Infinity|--optimizer adam"})
  void invalidValuesAreRefusedEvenWhenUnused(String option, String value, String context) {
    List<String> a = train(context.split(" "));
    a.add(option);
    a.add(value);
    String line = error(a);
    assertTrue(line.contains(option), line);
  }

  @Test
  void anEmptyHiddenListIsRefused() {
    List<String> a = train();
    a.set(a.indexOf("--hidden") + 1, ",");
    assertTrue(error(a).contains("--hidden"));
  }

  @Test
  void epochsZeroFailsBeforeTheDataIsRead() {
    String line = error(List.of("train", "--data-dir", tmp.resolve("no-such-dir").toString(), "--device", "cpu",
        "--epochs", "0"));
    assertTrue(line.contains("--epochs"), line);
    assertFalse(line.contains("dataset"), line);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(delimiter = '|', value = {
      "--momentum|0.9|--optimizer adam",
      "--momentum|0.5|--optimizer rngd",
      "--rngd-lambda|0.1|--optimizer adam",
      "--rngd-T|10|--optimizer sgd",
      "--iota|0.3|--activation relu",
      "--alpha|2|--activation tanh",
      "--bn-momentum|0.9|--arch plain"})
  void optionsWithoutEffectAreNamed(String option, String value, String context) {
    List<String> a = train(context.split(" "));
    a.add(option);
    a.add(value);
    Synthetic.Run r = Synthetic.capture(() -> Main.execute(a.toArray(String[]::new)));
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(r.err().contains("note: " + option + " " + value + " has no effect"), r.err());
  }

  @Test
  void compareNamesRngdOptionsWithoutRngd() {
    Synthetic.Run r = Synthetic.capture(() -> Main.execute("compare", "--data-dir", data.toString(), "--device",
        "cpu", "--quiet", "--epochs", "1", "--train-size", "40", "--hidden", "4", "--batch", "20", "--optimizers",
        "sgd", "--rngd-T", "5", "--out", tmp.resolve("cmp").toString()));
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(r.err().contains("note: --rngd-T 5 has no effect"), r.err());
  }

  @Test
  void deviceCudaWithoutAGpuIsOneLineAndDoctorHasTheDiagnosis() {
    Assumptions.assumeFalse(CudaProbe.probe().available(), "this machine has a GPU");
    List<String> a = train();
    a.set(a.indexOf("cpu"), "cuda");
    String line = error(a);
    assertTrue(line.contains("no usable GPU") && line.contains("rfim4j doctor"), line);
    Synthetic.Run d = Synthetic.capture(() -> Main.execute("doctor"));
    assertEquals(0, d.exitCode(), d.err());
    String diagnosis = CudaProbe.probe().text();
    for (String l : diagnosis.lines().toList()) {
      assertTrue(d.out().contains(l.strip()), "doctor lacks: " + l + "\n" + d.out());
    }
    assertTrue(d.out().contains("heap") && d.out().contains("cpu"), d.out());
  }
}
