package org.rfim4j.backend;

/**
 * A requested backend cannot run on this machine. The message's first line says so; the following lines
 * are the diagnosis (what was found, what is missing, where it looked, what to do).
 */
public final class BackendUnavailableException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  public BackendUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
