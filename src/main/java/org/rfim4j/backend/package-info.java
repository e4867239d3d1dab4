/**
 * The backend seam: {@link org.rfim4j.backend.Backend} (device operations over opaque
 * {@link org.rfim4j.backend.DeviceArray}s), activation definitions and backend selection. Implementations
 * live in sub-packages ({@code cpu}, {@code cuda}); nothing here references JCuda or the {@code cuda}
 * package: {@link org.rfim4j.backend.BackendSelector} finds the CUDA backend as a
 * {@link org.rfim4j.backend.BackendProvider} through {@link java.util.ServiceLoader}. Optional capabilities of
 * a backend are interfaces here (such as {@link org.rfim4j.backend.Tf32Capable}), so callers never cast to
 * a concrete backend class.
 */
package org.rfim4j.backend;
