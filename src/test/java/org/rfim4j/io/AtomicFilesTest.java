package org.rfim4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
  @TempDir Path tmp;

  /** Issue 16, finding 9: output files were created 0600 whatever the umask. */
  @Test
  void writtenFilesHonourTheUmask() throws IOException {
    Path reference = Files.createFile(tmp.resolve("reference")); // mode 0666 & ~umask
    Path written = tmp.resolve("out/curve.csv");
    AtomicFiles.writeString(written, "x\n");
    assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(reference)),
        PosixFilePermissions.toString(Files.getPosixFilePermissions(written)));
  }
}
