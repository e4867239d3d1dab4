package org.rfim4j.backend.cpu;

import java.util.Arrays;
import org.rfim4j.backend.DeviceArray;

/**
 * Argument checks of the {@link CpuBackend} and {@link CpuBackend32} facades: each throws an {@link
 * IllegalArgumentException} whose message names the operation, the argument and its shape.
 */
final class CpuArgs {

  private CpuArgs() {}

  /** {@code a} as a live {@link CpuArray} allocated by {@code owner}. */
  static CpuArray arr(CpuBackend owner, DeviceArray a, String op, String name) {
    notNull(op, name, a);
    if (!(a instanceof CpuArray) || ((CpuArray) a).owner != owner) {
      throw new IllegalArgumentException(op + ": " + name + " was not allocated by this CpuBackend");
    }
    return live((CpuArray) a, op, name);
  }

  /** {@code a} as a live {@link CpuArray32} allocated by {@code owner}. */
  static CpuArray32 arr(CpuBackend32 owner, DeviceArray a, String op, String name) {
    notNull(op, name, a);
    if (!(a instanceof CpuArray32) || ((CpuArray32) a).owner != owner) {
      throw new IllegalArgumentException(op + ": " + name + " was not allocated by this CpuBackend32");
    }
    return live((CpuArray32) a, op, name);
  }

  private static <T extends CpuArrayBase> T live(T c, String op, String name) {
    if (c.isClosed()) {
      throw new IllegalArgumentException(op + ": " + name + " " + Arrays.toString(c.shapeRef())
          + " has been closed");
    }
    return c;
  }

  /** Throws "op: name must not be null" when {@code o} is null. */
  static void notNull(String op, String name, Object o) {
    if (o == null) {
      throw new IllegalArgumentException(op + ": " + name + " must not be null");
    }
  }

  static boolean overlaps(CpuArrayBase x, CpuArrayBase y) {
    return x.storage() == y.storage() && x.offset < y.offset + y.size && y.offset < x.offset + x.size;
  }

  static String shp(CpuArrayBase a) {
    return Arrays.toString(a.shapeRef());
  }

  static IllegalArgumentException bad(String op, String name, CpuArrayBase a, String expected) {
    return new IllegalArgumentException(
        op + ": " + name + " has shape " + shp(a) + " but " + expected);
  }

  static void sameSize(String op, String nameA, CpuArrayBase a, String nameB, CpuArrayBase b) {
    if (a.size != b.size) {
      throw new IllegalArgumentException(op + ": " + nameB + " has shape " + shp(b) + " (size " + b.size
          + ") but must have the size of " + nameA + " " + shp(a) + " (size " + a.size + ")");
    }
  }

  static void sameShape(String op, String nameA, CpuArrayBase a, String nameB, CpuArrayBase b) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) {
      throw new IllegalArgumentException(op + ": " + nameB + " has shape " + shp(b) + " but must be "
          + a.rows() + " x " + a.cols() + " like " + nameA + " " + shp(a));
    }
  }

  static void vectorOf(String op, String name, CpuArrayBase a, int n, String what) {
    if (a.size != n) {
      throw new IllegalArgumentException(op + ": " + name + " has shape " + shp(a) + " but must have "
          + n + " elements (" + what + ")");
    }
  }

  /** Whether {@code v} is an integer index in [0, n). */
  static boolean isIndex(double v, int n) {
    return v >= 0 && v < n && v == Math.rint(v);
  }

  /**
   * The checks of {@code gatherRows}: dst's rows as wide as src's, {@code offset + dst.rows()} within indices, and
   * every index used an integer row of src.
   */
  static void gatherArgs(CpuArrayBase src, CpuArrayBase indices, int offset, CpuArrayBase dst) {
    if (dst.cols() != src.cols()) {
      throw bad("gatherRows", "dst", dst, "its rows must have src's " + src.cols() + " columns (src "
          + shp(src) + ")");
    }
    int rows = dst.rows();
    if (offset < 0 || (long) offset + rows > indices.size) {
      throw new IllegalArgumentException("gatherRows: indices has shape " + shp(indices) + " but offset "
          + offset + " + dst rows " + rows + " (dst " + shp(dst) + ") exceeds its " + indices.size + " elements");
    }
    int sr = src.rows();
    for (int k = 0; k < rows; k++) {
      double v = indices.value(offset + k);
      if (!isIndex(v, sr)) {
        throw new IllegalArgumentException("gatherRows: indices[" + (offset + k) + "] = " + v
            + " is not a row index of src " + shp(src));
      }
    }
  }

  /**
   * The checks of {@code softmaxCrossEntropy}: one label per row of logits, each an integer class index; probs
   * (and dLogits when given) of logits' shape; stats of 2 elements.
   */
  static void softmaxArgs(String op, CpuArrayBase logits, CpuArrayBase labels, CpuArrayBase probs,
      CpuArrayBase dLogits, CpuArrayBase stats) {
    int b = logits.rows();
    int n = logits.cols();
    vectorOf(op, "labels", labels, b, "one label per row of logits " + shp(logits));
    sameShape(op, "logits", logits, "probs", probs);
    if (dLogits != null) {
      sameShape(op, "logits", logits, "dLogits", dLogits);
    }
    vectorOf(op, "stats", stats, 2, "loss sum and error count");
    for (int k = 0; k < b; k++) {
      double v = labels.value(k);
      if (!isIndex(v, n)) {
        throw new IllegalArgumentException(op + ": labels[" + k + "] = " + v + " is not a class index of "
            + n + " classes (logits " + shp(logits) + ")");
      }
    }
  }

  /** Number of matrices in a square stack of D x D matrices (m x D x D, or one D x D). */
  static int stackCount(String op, String name, CpuArrayBase a, int d) {
    int[] s = a.shapeRef();
    boolean ok;
    int m;
    if (s.length == 3) {
      ok = s[1] == d && s[2] == d;
      m = s[0];
    } else if (s.length == 2) {
      ok = s[0] == d && s[1] == d;
      m = 1;
    } else {
      ok = false;
      m = 0;
    }
    if (!ok) {
      throw new IllegalArgumentException(op + ": " + name + " has shape " + Arrays.toString(s)
          + " but must be a stack of " + d + " x " + d + " matrices (m x " + d + " x " + d + ", or "
          + d + " x " + d + ")");
    }
    return m;
  }
}
