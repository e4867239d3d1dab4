// optim.cu - first-order optimizer updates, element-wise.
#include "activations.cuh"

/** Plain SGD: p -= lr * g. */
extern "C" __global__ void rfim_sgd(long long n, float* p, const float* g, float lr) {
  RFIM_GRID_STRIDE(i, n) { p[i] -= lr * g[i]; }
}

/** SGD with momentum: v = momentum * v + g; p -= lr * v. */
extern "C" __global__ void rfim_sgd_momentum(long long n, float* p, const float* g, float* v, float lr,
                                             float momentum) {
  RFIM_GRID_STRIDE(i, n) {
    float vi = momentum * v[i] + g[i];
    v[i] = vi;
    p[i] -= lr * vi;
  }
}

/**
 * Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * (m / c1) / (sqrt(v / c2) + eps) with the
 * bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t computed on the host in double.
 */
extern "C" __global__ void rfim_adam(long long n, float* p, const float* g, float* m, float* v, float lr,
                                     float b1, float b2, float eps, float c1, float c2) {
  RFIM_GRID_STRIDE(i, n) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr * (mi / c1) / (sqrtf(vi / c2) + eps);
  }
}
