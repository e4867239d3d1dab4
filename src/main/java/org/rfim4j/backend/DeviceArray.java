package org.rfim4j.backend;

/**
 * An opaque array that lives wherever its {@link Backend} keeps data (host heap, GPU memory).
 *
 * <p>Arrays are dense and row-major with up to three dimensions: a vector {@code [n]}, a matrix
 * {@code [rows, cols]} or a stack of matrices {@code [batch, rows, cols]}. Layers and optimizers never see
 * the storage; they pass arrays to backend operations, which validate shapes before touching data.
 * A row-range {@link Backend#rows view} shares storage with its base array and is not separately owned.
 */
public interface DeviceArray extends AutoCloseable {

  /** The shape, outermost dimension first. Never empty. */
  int[] shape();

  /** Number of elements. */
  default long size() {
    long n = 1;
    for (int d : shape()) {
      n *= d;
    }
    return n;
  }

  /** Rows of a matrix view: the product of all dimensions but the last. */
  default int rows() {
    int[] s = shape();
    int r = 1;
    for (int i = 0; i < s.length - 1; i++) {
      r *= s[i];
    }
    return r;
  }

  /** The last dimension. */
  default int cols() {
    int[] s = shape();
    return s[s.length - 1];
  }

  /** Releases the storage (no-op for views). Idempotent. */
  @Override
  void close();
}
