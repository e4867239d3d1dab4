package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static org.rfim4j.backend.cuda.Checks.matrix;
import static org.rfim4j.backend.cuda.Checks.sameSize;
import static org.rfim4j.backend.cuda.Checks.shape;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import org.rfim4j.backend.DeviceArray;

/**
 * The dense-algebra and gather operations of {@link CudaBackend}: GEMM through cuBLAS, the axpy / scale /
 * dot / column-sum kernels (dot reads its per-block partial sums back from an owned workspace, a host
 * synchronisation) and the row gathers ({@code gatherBatch}'s offset goes through the
 * {@link GraphParameters} block in graph mode).
 */
final class CudaAlgebra implements AutoCloseable {
  private final CudaBackend backend;
  private final CudaArrays arrays;
  private final CudaRuntime rt;
  private final Kernels k;
  private final Cublas blas;
  private final GraphParameters params;
  private final DeviceBuffer dotWs;

  CudaAlgebra(CudaBackend backend, CudaArrays arrays, CudaRuntime rt, Kernels k, Cublas blas,
      GraphParameters params) {
    this.backend = backend;
    this.arrays = arrays;
    this.rt = rt;
    this.k = k;
    this.blas = blas;
    this.params = params;
    this.dotWs = new DeviceBuffer("dot", rt);
  }

  void gemm(boolean transA, boolean transB, double alpha, DeviceArray a, DeviceArray b, double beta,
      DeviceArray c) {
    CudaArray A = arrays.arr("a", a);
    CudaArray B = arrays.arr("b", b);
    CudaArray C = arrays.arr("c", c);
    int m = transA ? A.cols() : A.rows();
    int kk = transA ? A.rows() : A.cols();
    int kb = transB ? B.cols() : B.rows();
    int n = transB ? B.rows() : B.cols();
    if (kk != kb) {
      throw new IllegalArgumentException("inner dimensions differ: op(a) is " + m + " x " + kk + " (a "
          + shape(A) + "), op(b) is " + kb + " x " + n + " (b " + shape(B) + ")");
    }
    matrix("c", C, m, n);
    backend.enter();
    blas.gemmRowMajor(transA, transB, m, n, kk, alpha, A.ptr(), A.cols(), B.ptr(), B.cols(), beta, C.ptr(),
        C.cols());
  }

  void axpy(double alpha, DeviceArray x, DeviceArray y) {
    CudaArray X = arrays.arr("x", x);
    CudaArray Y = arrays.arr("y", y);
    sameSize("x", X, "y", Y);
    backend.enter();
    k.launchN(k.axpy, X.size(), X.size(), (float) alpha, X.ptr(), Y.ptr());
  }

  void scale(double alpha, DeviceArray x) {
    CudaArray X = arrays.arr("x", x);
    backend.enter();
    k.launchN(k.scale, X.size(), X.size(), (float) alpha, X.ptr());
  }

  double dot(DeviceArray x, DeviceArray y) {
    CudaArray X = arrays.arr("x", x);
    CudaArray Y = arrays.arr("y", y);
    sameSize("x", X, "y", Y);
    backend.enter();
    int blocks = Math.min(Kernels.DOT_BLOCKS, k.gridFor(X.size()));
    CUdeviceptr ws = dotWs.ensure((long) Kernels.DOT_BLOCKS * Sizeof.FLOAT);
    k.launchGrid(k.dotPartial, blocks, Kernels.BLOCK, X.size(), X.ptr(), Y.ptr(), ws);
    float[] part = new float[blocks];
    rt.hostSync("dot");
    rt.rec.noteTransfer(false, (long) blocks * Sizeof.FLOAT);
    cuMemcpyDtoH(Pointer.to(part), ws, (long) blocks * Sizeof.FLOAT);
    double s = 0;
    for (float v : part) {
      s += v;
    }
    return s;
  }

  void columnSums(DeviceArray a, double alpha, double beta, DeviceArray out) {
    CudaArray A = arrays.arr("a", a);
    CudaArray O = arrays.arr("out", out);
    if (O.size() != A.cols()) {
      throw new IllegalArgumentException("out " + shape(O) + " must have " + A.cols() + " elements (the columns of a "
          + shape(A) + ")");
    }
    backend.enter();
    k.launchN(k.columnSums, A.cols(), A.ptr(), A.rows(), A.cols(), (float) alpha, (float) beta, O.ptr());
  }

  void gatherRows(DeviceArray src, DeviceArray indices, int offset, DeviceArray dst) {
    CudaArray S = arrays.arr("src", src);
    CudaArray I = arrays.arr("indices", indices);
    CudaArray D = arrays.arr("dst", dst);
    if (S.cols() != D.cols()) {
      throw new IllegalArgumentException("dst " + shape(D) + " must have the row length of src " + shape(S));
    }
    if (!(offset >= 0 && (long) offset + D.rows() <= I.size())) {
      throw new IllegalArgumentException("offset " + offset + " + dst rows " + D.rows()
          + " exceeds indices " + shape(I));
    }
    backend.enter();
    k.launchN(k.gatherRows, D.size(), S.ptr(), I.ptr(), offset, D.rows(), D.cols(), D.ptr());
  }

  void gatherBatch(DeviceArray features, DeviceArray labels, DeviceArray indices, int offset, DeviceArray x,
      DeviceArray y) {
    CudaArray S = arrays.arr("features", features);
    CudaArray L = arrays.arr("labels", labels);
    CudaArray I = arrays.arr("indices", indices);
    CudaArray X = arrays.arr("x", x);
    CudaArray Y = arrays.arr("y", y);
    if (S.cols() != X.cols()) {
      throw new IllegalArgumentException("x " + shape(X) + " must have the row length of features " + shape(S));
    }
    if (L.rows() != S.rows()) {
      throw new IllegalArgumentException("labels " + shape(L) + " must have one row per row of features " + shape(S));
    }
    if (!(L.cols() == 1 && Y.cols() == 1 && Y.rows() == X.rows())) {
      throw new IllegalArgumentException("labels " + shape(L) + " and y " + shape(Y)
          + " must be columns, y with the rows of x " + shape(X));
    }
    if (!(offset >= 0 && (long) offset + X.rows() <= I.size())) {
      throw new IllegalArgumentException("offset " + offset + " + x rows " + X.rows()
          + " exceeds indices " + shape(I));
    }
    backend.enter();
    CUdeviceptr dyn = params.stageInt(offset);  // graph mode: the offset comes from the parameter block
    int off = dyn == null ? offset : 0;
    k.launchN(k.gatherBatch, X.size() + X.rows(), S.ptr(), L.ptr(), I.ptr(), off, dyn, X.rows(), X.cols(), X.ptr(),
        Y.ptr());
  }

  @Override
  public void close() {
    dotWs.close();
  }
}
