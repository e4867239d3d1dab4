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

/**
 * Index of the tensor holding flat element e of a multi-tensor launch: the largest t < count with
 * starts[t] <= e (starts has count + 1 ascending entries, starts[0] = 0, starts[count] = total).
 */
__device__ __forceinline__ int rfim_tensor_of(const long long* starts, int count, long long e) {
  int lo = 0;
  int hi = count - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= e) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

/**
 * Multi-tensor SGD: one launch over every parameter of a model. Tensor t has starts[t+1] - starts[t]
 * elements at p[t], g[t] (and velocity v[t] when v != null); same arithmetic as rfim_sgd / rfim_sgd_momentum.
 */
extern "C" __global__ void rfim_sgd_multi(const long long* starts, float* const* p, const float* const* g,
                                          float* const* v, int count, float lr, float momentum) {
  long long total = starts[count];
  RFIM_GRID_STRIDE(e, total) {
    int t = rfim_tensor_of(starts, count, e);
    long long i = e - starts[t];
    float gi = g[t][i];
    if (v != 0) {
      float vi = momentum * v[t][i] + gi;
      v[t][i] = vi;
      p[t][i] -= lr * vi;
    } else {
      p[t][i] -= lr * gi;
    }
  }
}

/**
 * Multi-tensor Adam: one launch over every parameter (same arithmetic as rfim_adam). The bias corrections
 * c1, c2 are kernel parameters, or, when dyn != null (a captured CUDA graph, whose parameters are frozen),
 * read from dyn[0], dyn[1], which the host rewrites before every replay.
 */
extern "C" __global__ void rfim_adam_multi(const long long* starts, float* const* p, const float* const* g,
                                           float* const* m, float* const* v, int count, float lr, float b1,
                                           float b2, float eps, float c1, float c2, const float* dyn) {
  if (dyn != 0) {
    c1 = dyn[0];
    c2 = dyn[1];
  }
  long long total = starts[count];
  RFIM_GRID_STRIDE(e, total) {
    int t = rfim_tensor_of(starts, count, e);
    long long i = e - starts[t];
    float gi = g[t][i];
    float mi = b1 * m[t][i] + (1.0f - b1) * gi;
    float vi = b2 * v[t][i] + (1.0f - b2) * gi * gi;
    m[t][i] = mi;
    v[t][i] = vi;
    p[t][i] -= lr * (mi / c1) / (sqrtf(vi / c2) + eps);
  }
}
