package org.rfim4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Checks the real datasets when {@code scripts/fetch-data} has put them in the data dir; skipped otherwise. */
class RealMnistTest {

  @ParameterizedTest
  @ValueSource(strings = {"mnist", "fashion"})
  void realDataLooksRight(String name) {
    Path dir = DataDirs.resolve(null);
    Assumptions.assumeTrue(Datasets.isPresent(name, dir),
        () -> name + " not found under " + dir.toAbsolutePath() + " ($" + DataDirs.ENV
            + " or ./data); run " + Datasets.fetchCommand(name, dir) + " to enable this test");
    Split s = Datasets.load(name, dir);
    assertEquals(50_000, s.train().n());
    assertEquals(10_000, s.validation().n());
    assertEquals(10_000, s.test().n());
    for (Dataset ds : new Dataset[] {s.train(), s.validation(), s.test()}) {
      assertEquals(784, ds.d());
      assertEquals(10, ds.classes());
      float min = Float.POSITIVE_INFINITY;
      float max = Float.NEGATIVE_INFINITY;
      for (float v : ds.features()) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      assertEquals(0f, min, ds + " min pixel");
      assertEquals(1f, max, ds + " max pixel");
    }
    int[] counts = s.train().classCounts();
    for (int c = 0; c < 10; c++) {
      int k = counts[c];
      assertTrue(k >= 4000 && k <= 7000, name + " train class " + c + " has " + k + " examples");
    }
    int[] testCounts = s.test().classCounts();
    for (int c = 0; c < 10; c++) {
      assertTrue(testCounts[c] >= 800 && testCounts[c] <= 1200, name + " test class " + c + ": " + testCounts[c]);
    }
  }
}
