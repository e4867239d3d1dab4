package org.rfim4j.precond;

import java.nio.FloatBuffer;

/**
 * Conversions between a framework's layer layout and the preconditioner's: rfim4j's W is (fan-in + 1) x fan-out,
 * row-major, column i is neuron i and the last row holds the biases (MATH.md section 1). Many frameworks keep
 * the weights as a fan-in x fan-out matrix (row-major, or column-major as Deeplearning4j's 'f' order) and the
 * bias as a separate vector of fan-out values: {@link #pack} joins them, {@link #unpack} splits a
 * preconditioned result back.
 */
public final class Layouts {
  private Layouts() {}

  /** Element order of a framework's fan-in x fan-out weight matrix. */
  public enum Order {
    /** w[i * fanOut + j] is input i, neuron j (C order). */
    ROW_MAJOR,
    /** w[j * fanIn + i] is input i, neuron j (Fortran order, DL4J's 'f'). */
    COLUMN_MAJOR
  }

  /** One element copy between the framework's index and rfim4j's. */
  private interface Copy {
    void at(int framework, int rfim);
  }

  /**
   * Visits every element: weight (i, j) at the framework's {@code wOff + index(i, j)} and rfim4j's
   * {@code dOff + i * fanOut + j}, then bias j at {@code bOff + j} and {@code dOff + fanIn * fanOut + j}.
   */
  private static void visit(int fanIn, int fanOut, Order order, int wOff, int bOff, int dOff, Copy weight,
      Copy bias) {
    if (fanIn < 1 || fanOut < 1 || order == null) {
      throw new IllegalArgumentException("layout: fan-in and fan-out must be >= 1 and an order given, got "
          + fanIn + " x " + fanOut + ", " + order);
    }
    for (int i = 0; i < fanIn; i++) {
      for (int j = 0; j < fanOut; j++) {
        weight.at(wOff + (order == Order.ROW_MAJOR ? i * fanOut + j : j * fanIn + i), dOff + i * fanOut + j);
      }
    }
    for (int j = 0; j < fanOut; j++) {
      bias.at(bOff + j, dOff + fanIn * fanOut + j);
    }
  }

  private static void check(String name, int length, int offset, long need) {
    if (offset < 0 || offset + need > length) {
      throw new IllegalArgumentException("layout: " + name + " has " + length + " elements, needs " + need
          + " from offset " + offset);
    }
  }

  private static void checkAll(int fanIn, int fanOut, int wLen, int wOff, int bLen, int bOff, int dLen,
      int dOff) {
    check("weights (fan-in x fan-out)", wLen, wOff, (long) fanIn * fanOut);
    check("bias (fan-out)", bLen, bOff, fanOut);
    check("packed ((fan-in + 1) x fan-out)", dLen, dOff, (long) (fanIn + 1) * fanOut);
  }

  /** Joins weights {@code w} and {@code bias} into {@code dst} ((fan-in + 1) x fan-out, bias last). */
  public static void pack(float[] w, int wOff, Order order, float[] bias, int bOff, int fanIn, int fanOut,
      float[] dst, int dstOff) {
    checkAll(fanIn, fanOut, w.length, wOff, bias.length, bOff, dst.length, dstOff);
    visit(fanIn, fanOut, order, wOff, bOff, dstOff, (f, r) -> dst[r] = w[f], (f, r) -> dst[r] = bias[f]);
  }

  /** Splits {@code src} ((fan-in + 1) x fan-out, bias last) into weights {@code w} and {@code bias}. */
  public static void unpack(float[] src, int srcOff, int fanIn, int fanOut, float[] w, int wOff, Order order,
      float[] bias, int bOff) {
    checkAll(fanIn, fanOut, w.length, wOff, bias.length, bOff, src.length, srcOff);
    visit(fanIn, fanOut, order, wOff, bOff, srcOff, (f, r) -> w[f] = src[r], (f, r) -> bias[f] = src[r]);
  }

  /** {@link #pack(float[], int, Order, float[], int, int, int, float[], int)} for doubles. */
  public static void pack(double[] w, int wOff, Order order, double[] bias, int bOff, int fanIn, int fanOut,
      double[] dst, int dstOff) {
    checkAll(fanIn, fanOut, w.length, wOff, bias.length, bOff, dst.length, dstOff);
    visit(fanIn, fanOut, order, wOff, bOff, dstOff, (f, r) -> dst[r] = w[f], (f, r) -> dst[r] = bias[f]);
  }

  /** {@link #unpack(float[], int, int, int, float[], int, Order, float[], int)} for doubles. */
  public static void unpack(double[] src, int srcOff, int fanIn, int fanOut, double[] w, int wOff, Order order,
      double[] bias, int bOff) {
    checkAll(fanIn, fanOut, w.length, wOff, bias.length, bOff, src.length, srcOff);
    visit(fanIn, fanOut, order, wOff, bOff, srcOff, (f, r) -> w[f] = src[r], (f, r) -> bias[f] = src[r]);
  }

  /** Packs from float buffers (heap or direct, absolute offsets; positions untouched). */
  public static void pack(FloatBuffer w, int wOff, Order order, FloatBuffer bias, int bOff, int fanIn,
      int fanOut, FloatBuffer dst, int dstOff) {
    checkAll(fanIn, fanOut, w.limit(), wOff, bias.limit(), bOff, dst.limit(), dstOff);
    visit(fanIn, fanOut, order, wOff, bOff, dstOff, (f, r) -> dst.put(r, w.get(f)),
        (f, r) -> dst.put(r, bias.get(f)));
  }

  /** Unpacks into float buffers (heap or direct, absolute offsets; positions untouched). */
  public static void unpack(FloatBuffer src, int srcOff, int fanIn, int fanOut, FloatBuffer w, int wOff,
      Order order, FloatBuffer bias, int bOff) {
    checkAll(fanIn, fanOut, w.limit(), wOff, bias.limit(), bOff, src.limit(), srcOff);
    visit(fanIn, fanOut, order, wOff, bOff, srcOff, (f, r) -> w.put(f, src.get(r)),
        (f, r) -> bias.put(f, src.get(r)));
  }
}
