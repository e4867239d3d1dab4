package org.rfim4j.backend;

/**
 * A backend that lives outside this package and is found at run time: implementations are registered in
 * {@code META-INF/services/org.rfim4j.backend.BackendProvider} and found by {@link BackendSelector} through
 * {@link java.util.ServiceLoader}, so this package never references them. The CUDA backend registers one
 * under the name {@code cuda}.
 *
 * <p>An implementation needs a public no-argument constructor that does no work, and must keep the classes
 * that load native code out of {@link #availability()}: the selector asks every machine for availability,
 * including machines without the backend's hardware or libraries, and only calls {@link #open()} after
 * availability said yes.
 */
public interface BackendProvider {

  /** The device name the selector knows this backend by, lower case (for example {@code cuda}). */
  String name();

  /**
   * Whether {@link #open()} can be expected to work here, with a human-readable diagnosis either way.
   * Decides from files, properties and the environment only: loads no native library and no class of the
   * backend's native bindings, and never throws.
   */
  Availability availability();

  /**
   * Opens the backend. Called only after {@link #availability()} reported it available; this is where
   * native code may load.
   *
   * @throws RuntimeException when the backend fails to start; the selector reports it with the message
   */
  Backend open();

  /**
   * A provider's answer to "can you run here?".
   *
   * @param available whether {@link BackendProvider#open()} can be expected to work
   * @param diagnosis multi-line text: what was found, and when unavailable, what is missing, where it was
   *     looked for and what to do. Problems are listed as lines starting with {@code "- "} (after
   *     indentation); the selector quotes the first of them when it falls back to the CPU.
   */
  record Availability(boolean available, String diagnosis) {
    public Availability {
      diagnosis = diagnosis == null ? "" : diagnosis;
    }
  }
}
