// batchnorm.cu - batch normalisation of each column of x (B x n), one thread per column.
#include "common.cuh"

/**
 * Training mode: batch mean and biased variance per column; saves mean and invStd = 1/sqrt(var + eps);
 * running = momentum * running + (1 - momentum) * batch (unbiased variance for runVar);
 * y = gamma * (x - mean) * invStd + beta.
 */
extern "C" __global__ void rfim_bn_fwd_train(const float* x, int rows, int cols, const float* gamma,
                                             const float* beta, float* runMean, float* runVar, float momentum,
                                             float eps, float* mean, float* invStd, float* y) {
  for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < cols;
       j += (long long)blockDim.x * gridDim.x) {
    float s = 0.0f;
    for (int k = 0; k < rows; k++) {
      s += x[(long long)k * cols + j];
    }
    float mu = s / rows;
    float q = 0.0f;
    for (int k = 0; k < rows; k++) {
      float d = x[(long long)k * cols + j] - mu;
      q += d * d;
    }
    float var = q / rows;
    float is = 1.0f / sqrtf(var + eps);
    mean[j] = mu;
    invStd[j] = is;
    float unbiased = rows > 1 ? q / (rows - 1) : 0.0f;
    runMean[j] = momentum * runMean[j] + (1.0f - momentum) * mu;
    runVar[j] = momentum * runVar[j] + (1.0f - momentum) * unbiased;
    float g = gamma[j];
    float b = beta[j];
    for (int k = 0; k < rows; k++) {
      long long e = (long long)k * cols + j;
      y[e] = g * (x[e] - mu) * is + b;
    }
  }
}

/**
 * Inference mode: y = gamma * (x - runMean) / sqrt(runVar + eps) + beta (element-wise, grid-stride); when
 * mean / invStd are not null they receive runMean and 1 / sqrt(runVar + eps).
 */
extern "C" __global__ void rfim_bn_fwd_infer(const float* x, int rows, int cols, const float* gamma,
                                             const float* beta, const float* runMean, const float* runVar,
                                             float eps, float* mean, float* invStd, float* y) {
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < (long long)rows * cols;
       e += (long long)blockDim.x * gridDim.x) {
    int j = (int)(e % cols);
    float is = 1.0f / sqrtf(runVar[j] + eps);
    y[e] = gamma[j] * (x[e] - runMean[j]) * is + beta[j];
    if (e < cols) {  // the first row's threads also export the statistics
      if (mean != 0) {
        mean[j] = runMean[j];
      }
      if (invStd != 0) {
        invStd[j] = is;
      }
    }
  }
}

/**
 * Backward of training-mode BN, per column: dBeta = sum dy, dGamma = sum dy * xhat,
 * dx = gamma * invStd / B * (B * dy - dBeta - xhat * dGamma). dx may alias dy.
 */
extern "C" __global__ void rfim_bn_bwd(const float* x, const float* dy, int rows, int cols, const float* gamma,
                                       const float* mean, const float* invStd, float* dx, float* dGamma,
                                       float* dBeta) {
  for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < cols;
       j += (long long)blockDim.x * gridDim.x) {
    float mu = mean[j];
    float is = invStd[j];
    float sb = 0.0f;
    float sg = 0.0f;
    for (int k = 0; k < rows; k++) {
      long long e = (long long)k * cols + j;
      float d = dy[e];
      sb += d;
      sg += d * (x[e] - mu) * is;
    }
    dBeta[j] = sb;
    dGamma[j] = sg;
    float c = gamma[j] * is / rows;
    for (int k = 0; k < rows; k++) {
      long long e = (long long)k * cols + j;
      float xhat = (x[e] - mu) * is;
      dx[e] = c * (rows * dy[e] - sb - xhat * sg);
    }
  }
}
