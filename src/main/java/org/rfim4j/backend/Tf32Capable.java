package org.rfim4j.backend;

/**
 * A backend that can switch its single-precision matrix products to TF32 tensor-core math (about 10-bit
 * mantissa products, faster wide GEMMs on NVIDIA Ampere and later). Callers test for it
 * ({@code if (backend instanceof Tf32Capable t) t.setTf32(true)}) rather than for a concrete backend
 * class; backends without such a mode simply do not implement it.
 */
public interface Tf32Capable {
  /** Turns TF32 math on or off for every subsequent GEMM of this backend (off by default). */
  void setTf32(boolean on);
}
