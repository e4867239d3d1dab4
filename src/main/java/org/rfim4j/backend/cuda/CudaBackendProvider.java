package org.rfim4j.backend.cuda;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendProvider;

/**
 * Registers the CUDA backend with {@link org.rfim4j.backend.BackendSelector} (META-INF/services/
 * org.rfim4j.backend.BackendProvider), under the name {@code cuda}. {@link #availability()} is
 * {@link CudaProbe#probe()}: it looks at files only and, like this class, references no JCuda class;
 * {@link #open()} is {@link CudaBackend#open()}, the first point where JCuda and its natives load.
 */
public final class CudaBackendProvider implements BackendProvider {

  /** For {@link java.util.ServiceLoader}; does nothing. */
  public CudaBackendProvider() {}

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public Availability availability() {
    CudaProbe.Diagnosis d = CudaProbe.probe();
    return new Availability(d.available(), d.text());
  }

  @Override
  public Backend open() {
    return CudaBackend.open();
  }

  @Override
  public String toString() {
    return "CUDA backend provider (" + CudaBackendProvider.class.getName() + ")";
  }
}
