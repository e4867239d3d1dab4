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
 *
 * <p>The handle owns its workspace ({@link #workspaceBytes}, set with {@code cublasSetWorkspace} after
 * {@code cublasSetStream}, which resets it to the library's pool). Without one, CUDA 12.2+ cuBLAS makes a
 * stream-ordered allocation inside every graph capture that stays with that graph, so device memory would grow
 * with each captured step.
 */
final class Cublas implements AutoCloseable {
  /** The owned workspace: 32 MiB on Hopper and newer (compute capability 9+), else 4 MiB (cuBLAS's advice). */
  static long workspaceBytes(int computeMajor) {
    return (computeMajor >= 9 ? 32L : 4L) << 20;
  }

  private final cublasHandle handle = new cublasHandle();
  private final StepRecorder rec;
  private final DeviceBuffer workspace;
  private boolean closed;

  Cublas(CudaRuntime rt) {
    this(rt, rt.cudaStream);
  }

  /** A handle on {@code stream} (the side stream's), with its own workspace. */
  Cublas(CudaRuntime rt, jcuda.runtime.cudaStream_t stream) {
    this.rec = rt.rec;
    JCublas2.setExceptionsEnabled(true);
    JCublas2.cublasCreate(handle);
    DeviceBuffer ws = new DeviceBuffer("cublas-workspace", rt);
    try {
      JCublas2.cublasSetStream(handle, stream);  // resets any workspace: set ours after it
      long bytes = workspaceBytes(rt.computeMajor);
      JCublas2.cublasSetWorkspace(handle, ws.ensure(bytes), bytes);
      JCublas2.cublasSetPointerMode(handle, cublasPointerMode.CUBLAS_POINTER_MODE_HOST);
    } catch (RuntimeException | Error e) {
      try {
        JCublas2.cublasDestroy(handle);
      } catch (RuntimeException | Error suppressed) {
        e.addSuppressed(suppressed);
      }
      try {
        ws.close();
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    this.workspace = ws;
  }

  /** The owned workspace's size in bytes. */
  long workspaceCapacity() {
    return workspace.capacity();
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
    if (!rec.op(StepRecorder.GEMM, "sgemm", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) {
      return;
    }
    Pointer al = f(alpha);
    Pointer be = f(beta);
    rec.issue(() -> JCublas2.cublasSgemm(handle, op(transB), op(transA), n, m, k, al, b, ldb, a, lda, be, c, ldc));
  }

  /** Column-major strided-batched SGEMM, passed through. */
  void gemmStridedBatchedColMajor(boolean transA, boolean transB, int m, int n, int k, double alpha, Pointer a,
      int lda, long strideA, Pointer b, int ldb, long strideB, double beta, Pointer c, int ldc, long strideC,
      int batch) {
    if (!rec.op(StepRecorder.BATCHED, "sgemmStridedBatched", transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta,
        c, ldc, strideC, batch)) {
      return;
    }
    Pointer al = f(alpha);
    Pointer be = f(beta);
    rec.issue(() -> JCublas2.cublasSgemmStridedBatched(handle, op(transA), op(transB), m, n, k, al, a, lda, strideA,
        b, ldb, strideB, be, c, ldc, strideC, batch));
  }

  /**
   * Batched triangular solve with the column-major lower factors in {@code aArray} (device array of device
   * pointers): B_q = op(L_q)^{-1} B_q, left side, non-unit diagonal, n x n right-hand sides.
   */
  void trsmLowerBatched(boolean transpose, int n, Pointer aArray, Pointer bArray, int batch) {
    if (!rec.op(StepRecorder.BATCHED, "strsmBatched", transpose, n, aArray, bArray, batch)) {
      return;
    }
    Pointer one = f(1.0);
    rec.issue(() -> JCublas2.cublasStrsmBatched(handle, jcuda.jcublas.cublasSideMode.CUBLAS_SIDE_LEFT,
        jcuda.jcublas.cublasFillMode.CUBLAS_FILL_MODE_LOWER, op(transpose),
        jcuda.jcublas.cublasDiagType.CUBLAS_DIAG_NON_UNIT, n, n, one, aArray, n, bArray, n, batch));
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      try {
        JCublas2.cublasDestroy(handle);
      } finally {
        workspace.close();  // freed once the stream is idle (CudaRuntime.freeLater)
      }
    }
  }
}
