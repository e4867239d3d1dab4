package org.rfim4j.backend.cuda;

import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasPointerMode;

/**
 * Thin cuBLAS wrapper (one handle on the backend's stream, host pointer mode, exceptions enabled) that
 * exposes row-major operations through the column-major swap trick: a row-major r x c matrix is the
 * column-major c x r matrix of its transpose, so row-major C = op(A) op(B) is column-major
 * C^T = op(B)^T op(A)^T.
 */
final class Cublas implements AutoCloseable {
  private final cublasHandle handle = new cublasHandle();
  private final StepRecorder rec;
  private boolean closed;

  Cublas(CudaRuntime rt) {
    this.rec = rt.rec;
    JCublas2.setExceptionsEnabled(true);
    JCublas2.cublasCreate(handle);
    JCublas2.cublasSetStream(handle, rt.cudaStream);
    JCublas2.cublasSetPointerMode(handle, cublasPointerMode.CUBLAS_POINTER_MODE_HOST);
  }

  void setTf32(boolean on) {
    JCublas2.cublasSetMathMode(handle, on ? jcuda.jcublas.cublasMath.CUBLAS_TF32_TENSOR_OP_MATH
        : jcuda.jcublas.cublasMath.CUBLAS_DEFAULT_MATH);
  }

  private static int op(boolean t) {
    return t ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
  }

  private static Pointer f(double v) {
    return Pointer.to(new float[] {(float) v});
  }

  /**
   * Row-major C (m x n) = alpha op(A) op(B) + beta C, with op(A) m x k, op(B) k x n; lda/ldb/ldc are the
   * row-major row lengths (stored column counts).
   */
  void gemmRowMajor(boolean transA, boolean transB, int m, int n, int k, double alpha, Pointer a, int lda,
      Pointer b, int ldb, double beta, Pointer c, int ldc) {
    if (!rec.op(1, "sgemm", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) {
      return;
    }
    JCublas2.cublasSgemm(handle, op(transB), op(transA), n, m, k, f(alpha), b, ldb, a, lda, f(beta), c, ldc);
  }

  /** Column-major strided-batched SGEMM, passed through. */
  void gemmStridedBatchedColMajor(boolean transA, boolean transB, int m, int n, int k, double alpha, Pointer a,
      int lda, long strideA, Pointer b, int ldb, long strideB, double beta, Pointer c, int ldc, long strideC,
      int batch) {
    if (!rec.op(1, "sgemmStridedBatched", transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta,
        c, ldc, strideC, batch)) {
      return;
    }
    JCublas2.cublasSgemmStridedBatched(handle, op(transA), op(transB), m, n, k, f(alpha), a, lda, strideA, b, ldb,
        strideB, f(beta), c, ldc, strideC, batch);
  }

  /**
   * Batched triangular solve with the column-major lower factors in {@code aArray} (device array of device
   * pointers): B_q = op(L_q)^{-1} B_q, left side, non-unit diagonal, n x n right-hand sides.
   */
  void trsmLowerBatched(boolean transpose, int n, Pointer aArray, Pointer bArray, int batch) {
    if (!rec.op(1, "strsmBatched", transpose, n, aArray, bArray, batch)) {
      return;
    }
    JCublas2.cublasStrsmBatched(handle, jcuda.jcublas.cublasSideMode.CUBLAS_SIDE_LEFT,
        jcuda.jcublas.cublasFillMode.CUBLAS_FILL_MODE_LOWER, op(transpose),
        jcuda.jcublas.cublasDiagType.CUBLAS_DIAG_NON_UNIT, n, n, f(1.0), aArray, n, bArray, n, batch);
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      JCublas2.cublasDestroy(handle);
    }
  }
}
