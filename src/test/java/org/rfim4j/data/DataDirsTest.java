package org.rfim4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DataDirsTest {

  @Test
  void flagWinsOverEnvironment() {
    assertEquals(Path.of("/flag"), DataDirs.resolve(Path.of("/flag"), Map.of(DataDirs.ENV, "/env")));
  }

  @Test
  void environmentWinsOverDefault() {
    assertEquals(Path.of("/env"), DataDirs.resolve(null, Map.of(DataDirs.ENV, "/env")));
  }

  @Test
  void defaultIsDotData() {
    assertEquals(Path.of("data"), DataDirs.resolve(null, Map.of()));
    assertEquals(Path.of("data"), DataDirs.resolve(null, Map.of(DataDirs.ENV, "  ")));
  }
}
