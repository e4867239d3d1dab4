package org.rfim4j.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Small statistics over learning curves, shared by the timing listener, summaries and benchmarks. */
public final class Curves {
  private Curves() {}

  /** Seconds of each epoch from a curve whose {@code seconds} are cumulative. */
  public static List<Double> secondsPerEpoch(List<EpochResult> curve) {
    List<Double> s = new ArrayList<>();
    double last = 0;
    for (EpochResult r : curve) {
      s.add(r.seconds() - last);
      last = r.seconds();
    }
    return s;
  }

  /**
   * The last epoch a curve file written by {@link CurveCsvListener} or {@link CurveJsonListener} holds: the
   * first field of the CSV's last row, or the largest {@code epoch} of the JSON's curve; -1 when the file is
   * missing or unreadable.
   */
  public static int lastEpochIn(java.nio.file.Path file) {
    try {
      if (!java.nio.file.Files.isRegularFile(file)) {
        return -1;
      }
      if (file.getFileName().toString().endsWith(".json")) {
        int last = -1;
        for (com.fasterxml.jackson.databind.JsonNode r
            : new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile()).path("curve")) {
          last = Math.max(last, r.path("epoch").asInt(-1));
        }
        return last;
      }
      int last = -1;
      for (String line : java.nio.file.Files.readAllLines(file)) {
        int comma = line.indexOf(',');
        if (comma > 0 && Character.isDigit(line.charAt(0))) {
          last = Math.max(last, Integer.parseInt(line.substring(0, comma)));
        }
      }
      return last;
    } catch (java.io.IOException | RuntimeException e) {
      return -1;
    }
  }

  /** Median, NaN for an empty list. */
  public static double median(List<Double> values) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    List<Double> s = new ArrayList<>(values);
    Collections.sort(s);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : 0.5 * (s.get(n / 2 - 1) + s.get(n / 2));
  }
}
