package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Fuzz target for the {@code rfim --request} parser (issue 16): any text either computes a finite metric or is
 * refused with an {@link RfimRequestException} whose message is one line naming the field in words. The
 * committed inputs ({@code RfimRequestFuzzTestInputs/parse/}) are requests of every kind and form; {@code mvn
 * test} runs them, {@code scripts/fuzz} fuzzes from them (docs/fuzzing.md).
 */
class RfimRequestFuzzTest {
  @FuzzTest
  void parse(byte[] input) {
    String json = new String(input, StandardCharsets.UTF_8);
    String out;
    try {
      out = RfimRequest.parse(json).computeJson();
    } catch (RfimRequestException e) {
      RfimRequestStrictTest.assertWords(e.getMessage(), json);
      assertNotNull(e.field());
      return;
    }
    assertFalse(out.contains("NaN") || out.contains("Infinity"), out);
  }
}
