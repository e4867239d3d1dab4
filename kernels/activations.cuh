// activations.cuh - float32 activation math shared by the kernels (host and device).
// Mirrors org.rfim4j.backend.ActivationMath exactly (same branches, same stable forms):
//   kind codes are Activation.Kind ordinals: 0 IDENTITY, 1 TANH, 2 SIGMOID, 3 RELU, 4 PRELU, 5 ELU.
//   iota is the negative slope (0 for RELU), alpha the ELU scale, omega the RNGD nu smoothing.
#pragma once
#include "common.cuh"

#define RFIM_ACT_IDENTITY 0
#define RFIM_ACT_TANH 1
#define RFIM_ACT_SIGMOID 2
#define RFIM_ACT_RELU 3
#define RFIM_ACT_PRELU 4
#define RFIM_ACT_ELU 5

/** Logistic sigmoid, stable for large |t|. */
static __host__ __device__ __forceinline__ float rfim_sigm(float t) {
  if (t >= 0.0f) {
    return 1.0f / (1.0f + expf(-t));
  }
  float e = expf(t);
  return e / (1.0f + e);
}

/** sech^2(t) = 4 e^{-2|t|} / (1 + e^{-2|t|})^2, accurate everywhere. */
static __host__ __device__ __forceinline__ float rfim_sech2(float t) {
  float e = expf(-2.0f * fabsf(t));
  return 4.0f * e / ((1.0f + e) * (1.0f + e));
}

/** f(a). */
static __host__ __device__ __forceinline__ float rfim_act_f(int kind, float iota, float alpha, float a) {
  switch (kind) {
    case RFIM_ACT_TANH: return tanhf(a);
    case RFIM_ACT_SIGMOID: return rfim_sigm(a);
    case RFIM_ACT_RELU: return a > 0.0f ? a : 0.0f;
    case RFIM_ACT_PRELU: return a > 0.0f ? a : iota * a;
    case RFIM_ACT_ELU: return a >= 0.0f ? a : alpha * expm1f(a);
    default: return a;  // IDENTITY
  }
}

/** f'(a); at a = 0 (P)ReLU gives the negative slope, ELU gives 1. */
static __host__ __device__ __forceinline__ float rfim_act_df(int kind, float iota, float alpha, float a) {
  switch (kind) {
    case RFIM_ACT_TANH: return rfim_sech2(a);
    case RFIM_ACT_SIGMOID: {
      float s = rfim_sigm(a);
      return s * (1.0f - s);
    }
    case RFIM_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    case RFIM_ACT_PRELU: return a > 0.0f ? 1.0f : iota;
    case RFIM_ACT_ELU: return a >= 0.0f ? 1.0f : alpha * expf(a);
    default: return 1.0f;  // IDENTITY
  }
}

/** The RNGD coefficient nu_f(a) (MATH.md 3 and 8.1); (P)ReLU uses the omega-smoothed form. */
static __host__ __device__ __forceinline__ float rfim_act_nu(int kind, float iota, float alpha, float omega,
                                                             float a) {
  switch (kind) {
    case RFIM_ACT_TANH: return rfim_sech2(a);
    case RFIM_ACT_SIGMOID: {
      float s = rfim_sigm(a);
      return s * (1.0f - s);
    }
    case RFIM_ACT_RELU:
    case RFIM_ACT_PRELU: {
      float sl = kind == RFIM_ACT_PRELU ? iota : 0.0f;
      float d = sl + (1.0f - sl) * rfim_sigm((1.0f - sl) * a / omega);
      return d * d;
    }
    case RFIM_ACT_ELU: {
      if (a >= 0.0f) {
        return 1.0f;
      }
      return alpha * alpha * expf(2.0f * a);
    }
    default: return 1.0f;  // IDENTITY
  }
}

/** Full-warp sum (all 32 lanes must call it in converged code). */
static __device__ __forceinline__ float rfim_warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) {
    v += __shfl_down_sync(0xffffffffu, v, off);
  }
  return v;
}

/**
 * sqrt(max(nu, 0)) for the weighted Gram workspace, but a NaN nu stays NaN (fmaxf would turn it into 0 and hide
 * a NaN pre-activation from the inversion's failure check, MATH.md A11; the CPU backend propagates it too).
 */
static __host__ __device__ __forceinline__ float rfim_sqrt_weight(float nu) {
  return nu != nu ? nu : sqrtf(fmaxf(nu, 0.0f));
}

/**
 * Sum of v over the block, valid in thread 0. Every thread of the block must call it (converged);
 * blockDim.x a multiple of 32 and at most 1024. warpSums is the caller's __shared__ float[32]; the block
 * must __syncthreads() before it is used again.
 */
static __device__ __forceinline__ float rfim_block_sum(float v, float* warpSums) {
  v = rfim_warp_sum(v);
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  if (lane == 0) {
    warpSums[warp] = v;
  }
  __syncthreads();
  float w = 0.0f;
  if (warp == 0) {
    int nw = (blockDim.x + 31) >> 5;
    w = lane < nw ? warpSums[lane] : 0.0f;
    w = rfim_warp_sum(w);
  }
  return w;
}

/** Grid-stride loop over [0, n). */
#define RFIM_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); \
       i += (long long)blockDim.x * gridDim.x)

/**
 * Row softmax of z[0..c) into p (p may be null): returns log(sum exp(z - max)) and writes the max and the
 * argmax (first maximal index, as Java's loop over classes).
 */
static __host__ __device__ __forceinline__ float rfim_softmax_row(const float* z, float* p, int c, float* zmax,
                                                                  int* argmax) {
  float m = z[0];
  int am = 0;
  for (int j = 1; j < c; j++) {
    if (z[j] > m) {
      m = z[j];
      am = j;
    }
  }
  float s = 0.0f;
  for (int j = 0; j < c; j++) {
    s += expf(z[j] - m);
  }
  if (p != 0) {
    float inv = 1.0f / s;
    for (int j = 0; j < c; j++) {
      p[j] = expf(z[j] - m) * inv;
    }
  }
  *zmax = m;
  *argmax = am;
  return logf(s);
}
