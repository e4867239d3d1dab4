package org.rfim4j.io;

import java.util.Locale;

/**
 * Memory checks made before large allocations, so that an oversized dataset, model, optimizer state, request
 * or file ends in one line naming the need and the limit instead of an {@link OutOfMemoryError}.
 */
public final class Memory {
  private Memory() {}

  /** Refused: more memory is needed than the limit allows. One line: what, how much, the limit. */
  public static final class NotEnoughMemoryException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public NotEnoughMemoryException(String message) {
      super(message);
    }
  }

  /**
   * Bytes the JVM can still allocate on its heap: the maximum heap ({@code -Xmx}) less what is in use. When
   * that is less than {@code wanted}, garbage is collected once and the figure taken again.
   */
  public static long heapAvailable(long wanted) {
    Runtime rt = Runtime.getRuntime();
    long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    if (free < wanted) {
      System.gc();
      free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    }
    return free;
  }

  /**
   * Checks that {@code bytes} more fit on the JVM heap.
   *
   * @param what what needs them, e.g. "mnist (train and test images as floats)"
   * @throws NotEnoughMemoryException naming {@code what}, the need and the limit
   */
  public static void requireHeap(long bytes, String what) {
    String refusal = heapRefusal(bytes, what);
    if (refusal != null) {
      throw new NotEnoughMemoryException(refusal);
    }
  }

  /**
   * The message {@link #requireHeap} would throw for {@code bytes} more on the heap, or null when they fit.
   *
   * @param what what needs them
   */
  public static String heapRefusal(long bytes, String what) {
    if (bytes < 0) {
      bytes = Long.MAX_VALUE;
    }
    long free = heapAvailable(bytes);
    if (bytes <= free) {
      return null;
    }
    long max = Runtime.getRuntime().maxMemory();
    return "not enough memory: " + what + " needs about " + human(bytes) + ", the JVM can allocate "
        + human(Math.max(free, 0)) + " more (limit " + human(max) + "; raise it with -Xmx, e.g. RFIM4J_JAVA_OPTS=-Xmx"
        + suggestXmx(bytes, max) + " for ./rfim4j)";
  }

  /** A heap size for -Xmx that would hold {@code bytes} more than the current use: whole GiB. */
  static String suggestXmx(long bytes, long max) {
    long used = max - heapAvailable(0);
    double gib = (double) (bytes + Math.max(used, 0)) / (1L << 30) * 1.25;
    return Math.max(1, (long) Math.ceil(gib)) + "g";
  }

  /** "512 B", "3.2 MiB", "6.1 GiB", "1.1 TiB". */
  public static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
  }
}
