package org.rfim4j.backend.cuda;

import java.util.Arrays;
import org.rfim4j.backend.DeviceArray;

/**
 * Argument validation for {@link CudaBackend}: every message names the argument. Checks run on every
 * call of a training step, so here and at every call site a message is built only when its check fails
 * (no string building or shape formatting on the host per kernel launch).
 */
final class Checks {
  private Checks() {}

  static String shape(DeviceArray a) {
    return Arrays.toString(a.shape());
  }

  static void sameSize(String na, DeviceArray a, String nb, DeviceArray b) {
    if (a.size() != b.size()) {
      throw new IllegalArgumentException(na + " " + shape(a) + " and " + nb + " " + shape(b)
          + " must have the same size");
    }
  }

  static void matrix(String n, DeviceArray a, int rows, int cols) {
    if (a.rows() != rows || a.cols() != cols) {
      throw new IllegalArgumentException(n + " " + shape(a) + " must be " + rows + " x " + cols);
    }
  }

  static void size(String n, DeviceArray a, long size) {
    if (a.size() != size) {
      throw new IllegalArgumentException(n + " must have " + size + " elements but has shape " + shape(a));
    }
  }

  /** A stack m x d x d (or one d x d matrix when m == 1 and the array is 2-D); returns m. */
  static int stack(String n, DeviceArray g) {
    int[] s = g.shape();
    if (s.length == 3) {
      if (s[1] != s[2]) {
        throw new IllegalArgumentException(n + " must be a stack of square matrices but is " + shape(g));
      }
      return s[0];
    }
    if (s.length != 2 || s[0] != s[1]) {
      throw new IllegalArgumentException(n + " must be a square matrix or a stack m x D x D but is " + shape(g));
    }
    return 1;
  }

  static int dim(DeviceArray g) {
    return g.cols();
  }

  static int checkedInt(long v, String what) {
    if (v > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(what + " too large for the CUDA backend (" + v + " elements)");
    }
    return (int) v;
  }
}
