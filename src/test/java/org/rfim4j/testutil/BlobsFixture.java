package org.rfim4j.testutil;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.data.Dataset;

/**
 * What the trainer and checkpoint tests share: a fresh CPU backend per test ({@link #createBackend()}, the
 * float64 engine unless a subclass says otherwise), closed after it, the
 * synthetic blobs (300 training and 100 validation examples, 20 features, 3 classes) and a temporary
 * directory.
 */
public abstract class BlobsFixture {
  @TempDir protected Path tmp;
  protected Backend backend;
  protected Dataset train;
  protected Dataset val;

  @BeforeEach
  protected void openBackendAndData() {
    backend = createBackend();
    train = Synthetic.blobs("blobs/train", 300, 20, 3, 1);
    val = Synthetic.blobs("blobs/val", 100, 20, 3, 2);
  }

  /** The backend of each test: the float64 CPU engine. */
  protected Backend createBackend() {
    return new CpuBackend();
  }

  @AfterEach
  protected void closeBackend() {
    backend.close();
  }
}
