package org.rfim4j.data;

/**
 * A dataset could not be found or read: a missing file, a malformed or truncated IDX file, labels out of
 * range, or files that disagree with each other. The message is one line that names the file(s) and the
 * problem, suitable to show to a user as is.
 */
public class DatasetException extends RuntimeException {

  public DatasetException(String message) {
    super(message);
  }

  public DatasetException(String message, Throwable cause) {
    super(message, cause);
  }
}
