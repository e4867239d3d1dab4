package org.rfim4j.backend.cuda;

import static org.rfim4j.backend.cuda.CudaArrays.p;
import static org.rfim4j.backend.cuda.Checks.matrix;
import static org.rfim4j.backend.cuda.Checks.sameSize;
import static org.rfim4j.backend.cuda.Checks.shape;
import static org.rfim4j.backend.cuda.Checks.size;

import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;

/**
 * The layer kernels of {@link CudaBackend}: bias + activation forward, activation backward, RNGD's
 * activation coefficients nu, softmax cross-entropy with its gradient, and batch normalisation forward
 * (training and inference) and backward. One launch each.
 */
final class CudaLayers {
  private final CudaBackend backend;
  private final CudaArrays arrays;
  private final Kernels k;

  CudaLayers(CudaBackend backend, CudaArrays arrays, Kernels k) {
    this.backend = backend;
    this.arrays = arrays;
    this.k = k;
  }

  /** The activation's kind as the kernels' {@code int} code. */
  static int actCode(Activation act) {
    return act.kind().ordinal();
  }

  void biasActivationForward(DeviceArray z, DeviceArray bias, Activation act, DeviceArray h) {
    CudaArray Z = arrays.arr("z", z);
    CudaArray Bi = arrays.arr("bias", bias);
    CudaArray H = arrays.optArr("h", h);
    if (act == null) {
      throw new IllegalArgumentException("act must not be null");
    }
    size("bias", Bi, Z.cols());
    if (H != null) {
      matrix("h", H, Z.rows(), Z.cols());
    }
    backend.enter();
    k.launchN(k.biasActivationFwd, Z.size(), Z.ptr(), Bi.ptr(), Z.rows(), Z.cols(), actCode(act),
        (float) act.negativeSlope(), (float) act.alpha(), p(H));
  }

  void activationBackward(Activation act, DeviceArray a, DeviceArray dH, DeviceArray dA) {
    if (act == null) {
      throw new IllegalArgumentException("act must not be null");
    }
    CudaArray A = arrays.arr("a", a);
    CudaArray DH = arrays.arr("dH", dH);
    CudaArray DA = arrays.arr("dA", dA);
    matrix("dH", DH, A.rows(), A.cols());
    matrix("dA", DA, A.rows(), A.cols());
    backend.enter();
    k.launchN(k.activationBwd, A.size(), A.size(), actCode(act), (float) act.negativeSlope(), (float) act.alpha(),
        A.ptr(), DH.ptr(), DA.ptr());
  }

  void nuCoefficients(Activation act, DeviceArray a, double omega, DeviceArray nu) {
    if (act == null) {
      throw new IllegalArgumentException("act must not be null");
    }
    if (omega <= 0) {
      throw new IllegalArgumentException("omega must be > 0, got " + omega);
    }
    CudaArray A = arrays.arr("a", a);
    CudaArray N = arrays.arr("nu", nu);
    sameSize("a", A, "nu", N);
    backend.enter();
    k.launchN(k.nuCoefficients, A.size(), A.size(), actCode(act), (float) act.negativeSlope(), (float) act.alpha(),
        (float) omega, A.ptr(), N.ptr());
  }

  /** Row-wise softmax RFIM coefficients, one thread per row; nu may be a. */
  void softmaxNuCoefficients(DeviceArray a, DeviceArray nu) {
    CudaArray A = arrays.arr("a", a);
    CudaArray N = arrays.arr("nu", nu);
    if (A.rows() != N.rows() || A.cols() != N.cols()) {
      throw new IllegalArgumentException("softmaxNuCoefficients: nu " + shape(N) + " must have the shape of a "
          + shape(A));
    }
    backend.enter();
    int rows = A.rows();
    int block = 128;
    int grid = Math.max(1, Math.min((rows + block - 1) / block, 1024));
    k.launchGrid(k.softmaxNu, grid, block, A.ptr(), rows, A.cols(), N.ptr());
  }

  void softmaxCrossEntropy(DeviceArray logits, DeviceArray labels, DeviceArray probs, DeviceArray dLogits,
      double scale, DeviceArray stats) {
    CudaArray L = arrays.arr("logits", logits);
    CudaArray Y = arrays.arr("labels", labels);
    CudaArray P = arrays.arr("probs", probs);
    CudaArray DL = arrays.optArr("dLogits", dLogits);
    CudaArray S = arrays.arr("stats", stats);
    int rows = L.rows();
    int classes = L.cols();
    size("labels", Y, rows);
    matrix("probs", P, rows, classes);
    if (DL != null) {
      matrix("dLogits", DL, rows, classes);
    }
    size("stats", S, 2);
    backend.enter();
    int block = 128;
    int grid = Math.max(1, Math.min((rows + block - 1) / block, 1024));
    k.launchGrid(k.softmaxXent, grid, block, L.ptr(), Y.ptr(), rows, classes, P.ptr(), p(DL), (float) scale, S.ptr());
  }

  void batchNormForward(DeviceArray x, DeviceArray gamma, DeviceArray beta, DeviceArray runningMean,
      DeviceArray runningVar, double momentum, double eps, boolean training, DeviceArray mean,
      DeviceArray invStd, DeviceArray y) {
    CudaArray X = arrays.arr("x", x);
    int n = X.cols();
    CudaArray G = arrays.arr("gamma", gamma);
    CudaArray Be = arrays.arr("beta", beta);
    CudaArray RM = arrays.arr("runningMean", runningMean);
    CudaArray RV = arrays.arr("runningVar", runningVar);
    CudaArray Yy = arrays.arr("y", y);
    size("gamma", G, n);
    size("beta", Be, n);
    size("runningMean", RM, n);
    size("runningVar", RV, n);
    matrix("y", Yy, X.rows(), n);
    backend.enter();
    if (training) {
      CudaArray M = arrays.arr("mean", mean);
      CudaArray IS = arrays.arr("invStd", invStd);
      size("mean", M, n);
      size("invStd", IS, n);
      k.launchN(k.bnFwdTrain, n, X.ptr(), X.rows(), n, G.ptr(), Be.ptr(), RM.ptr(), RV.ptr(), (float) momentum,
          (float) eps, M.ptr(), IS.ptr(), Yy.ptr());
    } else {
      CudaArray M = arrays.optArr("mean", mean);
      CudaArray IS = arrays.optArr("invStd", invStd);
      if (M != null) {
        size("mean", M, n);
      }
      if (IS != null) {
        size("invStd", IS, n);
      }
      k.launchN(k.bnFwdInfer, X.size(), X.ptr(), X.rows(), n, G.ptr(), Be.ptr(), RM.ptr(), RV.ptr(), (float) eps,
          p(M), p(IS), Yy.ptr());
    }
  }

  void batchNormBackward(DeviceArray x, DeviceArray dY, DeviceArray gamma, DeviceArray mean, DeviceArray invStd,
      DeviceArray dX, DeviceArray dGamma, DeviceArray dBeta) {
    CudaArray X = arrays.arr("x", x);
    int n = X.cols();
    CudaArray DY = arrays.arr("dY", dY);
    CudaArray G = arrays.arr("gamma", gamma);
    CudaArray M = arrays.arr("mean", mean);
    CudaArray IS = arrays.arr("invStd", invStd);
    CudaArray DX = arrays.arr("dX", dX);
    CudaArray DG = arrays.arr("dGamma", dGamma);
    CudaArray DB = arrays.arr("dBeta", dBeta);
    matrix("dY", DY, X.rows(), n);
    matrix("dX", DX, X.rows(), n);
    size("gamma", G, n);
    size("mean", M, n);
    size("invStd", IS, n);
    size("dGamma", DG, n);
    size("dBeta", DB, n);
    backend.enter();
    k.launchN(k.bnBwd, n, X.ptr(), DY.ptr(), X.rows(), n, G.ptr(), M.ptr(), IS.ptr(), DX.ptr(), DG.ptr(), DB.ptr());
  }
}
