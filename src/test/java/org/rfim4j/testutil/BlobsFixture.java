package org.rfim4j.testutil;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.data.Dataset;

/**
 * What the trainer and checkpoint tests share: a fresh CPU backend per test, closed after it, the
 * synthetic blobs (300 training and 100 validation examples, 20 features, 3 classes) and a temporary
 * directory.
 */
public abstract class BlobsFixture {
  @TempDir protected Path tmp;
  protected CpuBackend backend;
  protected Dataset train;
  protected Dataset val;

  @BeforeEach
  protected void openBackendAndData() {
    backend = new CpuBackend();
    train = Synthetic.blobs("blobs/train", 300, 20, 3, 1);
    val = Synthetic.blobs("blobs/val", 100, 20, 3, 2);
  }

  @AfterEach
  protected void closeBackend() {
    backend.close();
  }
}
