// elementwise.cu - fill, axpy, scale, gather, column sums, dot partials, bias+activation forward,
// activation backward and the RNGD nu coefficients. All loops are grid-stride; float32 throughout.
#include "activations.cuh"

/** x[i] = value. */
extern "C" __global__ void rfim_fill(float* x, long long n, float value) {
  RFIM_GRID_STRIDE(i, n) { x[i] = value; }
}

/** y[i] += alpha * x[i]. */
extern "C" __global__ void rfim_axpy(long long n, float alpha, const float* x, float* y) {
  RFIM_GRID_STRIDE(i, n) { y[i] += alpha * x[i]; }
}

/** x[i] *= alpha. */
extern "C" __global__ void rfim_scale(long long n, float alpha, float* x) {
  RFIM_GRID_STRIDE(i, n) { x[i] *= alpha; }
}

/** dst[k][j] = src[(int) idx[offset + k]][j] for k < rows, j < cols. */
extern "C" __global__ void rfim_gather_rows(const float* src, const float* idx, int offset, int rows, int cols,
                                            float* dst) {
  RFIM_GRID_STRIDE(e, (long long)rows * cols) {
    long long k = e / cols;
    long long j = e - k * cols;
    long long r = (long long)idx[offset + k];
    dst[e] = src[r * cols + j];
  }
}

/** out[j] = alpha * sum_i a[i][j] + beta * out[j] (one thread per column). */
extern "C" __global__ void rfim_column_sums(const float* a, int rows, int cols, float alpha, float beta,
                                            float* out) {
  RFIM_GRID_STRIDE(j, cols) {
    float s = 0.0f;
    for (int i = 0; i < rows; i++) {
      s += a[(long long)i * cols + j];
    }
    out[j] = beta == 0.0f ? alpha * s : alpha * s + beta * out[j];
  }
}

/**
 * Per-block partial dot products: partial[blockIdx.x] = sum over this block's grid-stride share of x*y.
 * blockDim.x must be a multiple of 32 and at most 1024. The host sums the partials in double.
 */
extern "C" __global__ void rfim_dot_partial(long long n, const float* x, const float* y, float* partial) {
  __shared__ float warpSums[32];
  float v = 0.0f;
  RFIM_GRID_STRIDE(i, n) { v += x[i] * y[i]; }
  float w = rfim_block_sum(v, warpSums);
  if (threadIdx.x == 0) {
    partial[blockIdx.x] = w;
  }
}

/**
 * z[k][j] += bias[j] (in place: the pre-activation A); if h != null, h[k][j] = f(A[k][j]).
 */
extern "C" __global__ void rfim_bias_activation_fwd(float* z, const float* bias, int rows, int cols, int kind,
                                                    float iota, float alpha, float* h) {
  RFIM_GRID_STRIDE(e, (long long)rows * cols) {
    int j = (int)(e % cols);
    float a = z[e] + bias[j];
    z[e] = a;
    if (h != 0) {
      h[e] = rfim_act_f(kind, iota, alpha, a);
    }
  }
}

/** dA[i] = dH[i] * f'(A[i]); dA may alias dH. */
extern "C" __global__ void rfim_activation_bwd(long long n, int kind, float iota, float alpha, const float* a,
                                               const float* dh, float* da) {
  RFIM_GRID_STRIDE(i, n) { da[i] = dh[i] * rfim_act_df(kind, iota, alpha, a[i]); }
}

/** nu[i] = nu_f(a[i]) (RNGD coefficient, MATH.md 8.1). */
extern "C" __global__ void rfim_nu_coefficients(long long n, int kind, float iota, float alpha, float omega,
                                                const float* a, float* nu) {
  RFIM_GRID_STRIDE(i, n) { nu[i] = rfim_act_nu(kind, iota, alpha, omega, a[i]); }
}

/**
 * Fused mini-batch gather of features and labels: x[k][j] = xs[r][j], y[k] = ys[r] with r = (int) idx[off + k].
 * off is the parameter `offset`, or *dynOffset when dynOffset != null (a captured CUDA graph: the host rewrites
 * it before every replay).
 */
extern "C" __global__ void rfim_gather_batch(const float* xs, const float* ys, const float* idx, int offset,
                                             const int* dynOffset, int rows, int cols, float* x, float* y) {
  int off = dynOffset != 0 ? *dynOffset : offset;
  long long nx = (long long)rows * cols;
  RFIM_GRID_STRIDE(e, nx + rows) {
    if (e < nx) {
      long long k = e / cols;
      long long j = e - k * cols;
      long long r = (long long)idx[off + k];
      x[e] = xs[r * cols + j];
    } else {
      long long k = e - nx;
      y[k] = ys[(long long)idx[off + k]];
    }
  }
}
