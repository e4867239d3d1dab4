/**
 * The backend seam: {@link org.rfim4j.backend.Backend} (device operations over opaque
 * {@link org.rfim4j.backend.DeviceArray}s), activation definitions and backend selection. Implementations
 * live in sub-packages ({@code cpu}, {@code cuda}); nothing here references JCuda.
 */
package org.rfim4j.backend;
