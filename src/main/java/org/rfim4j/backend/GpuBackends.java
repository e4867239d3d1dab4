package org.rfim4j.backend;

/** Access to the CUDA backend, kept in one place so the selector stays free of JCuda types. */
final class GpuBackends {
  private GpuBackends() {}

  /** Null when a GPU backend can be opened, else a human diagnosis. */
  static String unavailableReason() {
    return "this build has no CUDA backend";
  }

  static Backend openCuda() {
    throw new IllegalStateException("--device cuda: " + unavailableReason());
  }
}
