package org.rfim4j.backend.cuda;

import jcuda.Pointer;
import jcuda.jcublas.cublasFillMode;
import jcuda.jcusolver.JCusolver;
import jcuda.jcusolver.JCusolverDn;
import jcuda.jcusolver.cusolverDnHandle;

/**
 * Thin cuSOLVER-dense wrapper (one handle on the backend's stream, exceptions enabled): Cholesky
 * factorisation of one matrix or a batch, and inversion from a single factor. All matrices are
 * column-major lower; the callers pass symmetric matrices, for which row- and column-major agree.
 * Every {@code info} value is written to device memory and checked by the caller.
 */
final class Cusolver implements AutoCloseable {
  private final cusolverDnHandle handle = new cusolverDnHandle();
  private final StepRecorder rec;
  private boolean closed;

  Cusolver(CudaRuntime rt) {
    this(rt, rt.cudaStream);
  }

  /** A handle on {@code stream} (the side stream's). */
  Cusolver(CudaRuntime rt, jcuda.runtime.cudaStream_t stream) {
    this.rec = rt.rec;
    JCusolver.setExceptionsEnabled(true);
    JCusolverDn.cusolverDnCreate(handle);
    try {
      JCusolverDn.cusolverDnSetStream(handle, stream);
    } catch (RuntimeException | Error e) {
      try {
        JCusolverDn.cusolverDnDestroy(handle);
      } catch (RuntimeException | Error suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  private static final int LOWER = cublasFillMode.CUBLAS_FILL_MODE_LOWER;

  /** Work size (floats) of {@link #potrf}. */
  int potrfBufferSize(int n, Pointer a) {
    int[] lw = {0};
    JCusolverDn.cusolverDnSpotrf_bufferSize(handle, LOWER, n, a, n, lw);
    return Math.max(1, lw[0]);
  }

  /** Work size (floats) of {@link #potri}. */
  int potriBufferSize(int n, Pointer a) {
    int[] lw = {0};
    JCusolverDn.cusolverDnSpotri_bufferSize(handle, LOWER, n, a, n, lw);
    return Math.max(1, lw[0]);
  }

  /** In-place Cholesky A = L L^T (lower); status into the device int {@code info}. */
  void potrf(int n, Pointer a, Pointer work, int lwork, Pointer info) {
    if (!rec.op(StepRecorder.SOLVER, "potrf", n, a, work, lwork, info)) {
      return;
    }
    rec.issue(() -> JCusolverDn.cusolverDnSpotrf(handle, LOWER, n, a, n, work, lwork, info));
  }

  /** In-place inverse from the lower Cholesky factor; only the lower (column-major) triangle is written. */
  void potri(int n, Pointer a, Pointer work, int lwork, Pointer info) {
    if (!rec.op(StepRecorder.SOLVER, "potri", n, a, work, lwork, info)) {
      return;
    }
    rec.issue(() -> JCusolverDn.cusolverDnSpotri(handle, LOWER, n, a, n, work, lwork, info));
  }

  /** Batched in-place Cholesky of the matrices whose device pointers are in {@code aArray}. */
  void potrfBatched(int n, Pointer aArray, Pointer infoArray, int batch) {
    if (!rec.op(StepRecorder.SOLVER, "potrfBatched", n, aArray, infoArray, batch)) {
      return;
    }
    rec.issue(() -> JCusolverDn.cusolverDnSpotrfBatched(handle, LOWER, n, aArray, n, infoArray, batch));
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      JCusolverDn.cusolverDnDestroy(handle);
    }
  }
}
