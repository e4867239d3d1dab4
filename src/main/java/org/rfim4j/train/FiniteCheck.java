package org.rfim4j.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * Finds arrays holding NaN or an infinity, on the device: one dot product {@code x . x} per array (non-finite
 * if any element is). Only when that sum overflows (elements beyond about 1e154 in float64, 1e19 in
 * float32) is the array downloaded and checked element by element, so a large but finite array is not
 * mistaken for a diverged one.
 */
final class FiniteCheck {
  private FiniteCheck() {}

  /** Names of the arrays that hold a non-finite value, in map order. */
  static List<String> nonFinite(Backend backend, Map<String, DeviceArray> arrays) {
    List<String> bad = new ArrayList<>();
    for (Map.Entry<String, DeviceArray> e : arrays.entrySet()) {
      DeviceArray a = e.getValue();
      if (Double.isFinite(backend.dot(a, a))) {
        continue;
      }
      for (double v : backend.download(a)) {
        if (!Double.isFinite(v)) {
          bad.add(e.getKey());
          break;
        }
      }
    }
    return bad;
  }
}
