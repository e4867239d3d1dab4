package org.rfim4j.backend.cpu;

import java.util.Arrays;

/**
 * Argument checks of the CPU engines' facade ({@link CpuEngine}): each throws an {@link
 * IllegalArgumentException} whose message names the operation, the argument and its shape.
 */
final class CpuArgs {

  private CpuArgs() {}

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

  /**
   * The checks of {@code gemm}: op(a) and op(b) conform, c is their product's shape and overlaps neither.
   *
   * @return the inner dimension k
   */
  static int gemmArgs(boolean transA, boolean transB, CpuArrayBase a, CpuArrayBase b, CpuArrayBase c) {
    int m = transA ? a.cols() : a.rows();
    int k = transA ? a.rows() : a.cols();
    int kb = transB ? b.cols() : b.rows();
    int n = transB ? b.rows() : b.cols();
    if (kb != k) {
      throw new IllegalArgumentException("gemm: inner dimensions differ: op(a) is " + m + " x " + k
          + " (a " + shp(a) + (transA ? " transposed" : "") + ") but op(b) is " + kb + " x " + n + " (b "
          + shp(b) + (transB ? " transposed" : "") + ")");
    }
    if (c.rows() != m || c.cols() != n) {
      throw bad("gemm", "c", c, "op(a) op(b) is " + m + " x " + n);
    }
    if (overlaps(c, a) || overlaps(c, b)) {
      throw new IllegalArgumentException("gemm: c " + shp(c) + " shares storage with "
          + (overlaps(c, a) ? "a " + shp(a) : "b " + shp(b)) + "; the output must not overlap an input");
    }
    return k;
  }

  /** The check of {@code sharedMetricUpdate}: g is (h.cols() + 1) square. */
  static void sharedMetricArgs(CpuArrayBase h, CpuArrayBase g) {
    int d = h.cols() + 1;
    if (g.size != d * d || g.cols() != d) {
      throw bad("sharedMetricUpdate", "g", g, "must be " + d + " x " + d + " for h " + shp(h));
    }
  }

  /** The checks of {@code perNeuronMetricUpdate}: nu has h's rows, g one (h.cols() + 1) square matrix per column of nu. */
  static void perNeuronMetricArgs(CpuArrayBase h, CpuArrayBase nu, CpuArrayBase g) {
    int b = h.rows();
    int d = h.cols() + 1;
    if (nu.rows() != b) {
      throw bad("perNeuronMetricUpdate", "nu", nu, "must have h's " + b + " rows (h " + shp(h) + ")");
    }
    int m = nu.cols();
    int gm = stackCount("perNeuronMetricUpdate", "g", g, d);
    if (gm != m) {
      throw bad("perNeuronMetricUpdate", "g", g, "must be " + m + " x " + d + " x " + d + " (one "
          + d + " x " + d + " matrix per column of nu " + shp(nu) + ", h " + shp(h) + ")");
    }
  }

  /** The number of d x d matrices of g, checking that ginv has g's shape. */
  static int inverseStack(String op, CpuArrayBase g, CpuArrayBase ginv) {
    int m = stackCount(op, "g", g, g.cols());
    if (!Arrays.equals(g.shapeRef(), ginv.shapeRef())) {
      throw bad(op, "ginv", ginv, "must have the shape of g " + shp(g));
    }
    return m;
  }

  /**
   * The checks of {@code refreshInverses}: ginv has g's shape, epsRel one element per matrix, failures at least
   * one element.
   *
   * @return the number of matrices of g
   */
  static int refreshArgs(String op, CpuArrayBase g, CpuArrayBase ginv, CpuArrayBase epsRel, CpuArrayBase failures) {
    int m = inverseStack(op, g, ginv);
    if (epsRel.size != m) {
      throw bad(op, "epsRel", epsRel, "must have " + m + " elements (one per matrix of g " + shp(g) + ")");
    }
    if (failures.size < 1) {
      throw bad(op, "failures", failures, "must have at least one element");
    }
    return m;
  }

  /** The checks of {@code perNeuronPrecondition}: one grad.rows() square matrix per column of grad, out of grad's shape. */
  static void preconditionArgs(String op, CpuArrayBase ginv, CpuArrayBase grad, CpuArrayBase out) {
    int d = grad.rows();
    int m = grad.cols();
    int gm = stackCount(op, "ginv", ginv, d);
    if (gm != m) {
      throw bad(op, "ginv", ginv, "must be " + m + " x " + d + " x " + d + " (one matrix per column of grad "
          + shp(grad) + ")");
    }
    sameShape(op, "grad", grad, "out", out);
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
