// Self-test kernels of the CUDA simulator (NOT project kernels): built like kernels/*.cu, into
// target/cudasim/ptx/simtest_kernels.ptx and libtestkernels_sim.so. Used by src/test/java/org/rfim4j/cudasim.
// Names carry the simtest_ prefix so they never collide with kernels/*.cu entries.
#include <cassert>
#include "common.cuh"

// grid-stride elementwise: y = a*x + y
extern "C" __global__ void simtest_saxpy(int n, float a, const float* __restrict__ x, float* __restrict__ y) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) y[i] = a * x[i] + y[i];
}

// one partial sum per block through __shared__ memory and __syncthreads (blockDim.x = 256, a power of two)
extern "C" __global__ void simtest_block_reduce(const float* __restrict__ in, float* __restrict__ partial, int n) {
    __shared__ float s[256];
    const unsigned tid = threadIdx.x;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    s[tid] = (i < n) ? in[i] : 0.0f;
    __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (tid < stride) s[tid] += s[tid + stride];
        __syncthreads();
    }
    if (tid == 0) partial[blockIdx.x] = s[0];
}

__device__ __forceinline__ float simtest_warp_sum(float v) {
    for (int offset = warpSize / 2; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}
// warp-shuffle reduction; any blockDim.x that is a multiple of 32, up to 1024
extern "C" __global__ void simtest_warp_reduce(const float* __restrict__ in, float* __restrict__ partial, int n) {
    __shared__ float warp_sums[32];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = (i < n) ? in[i] : 0.0f;
    v = simtest_warp_sum(v);
    const int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const int nwarps = (blockDim.x + warpSize - 1) / warpSize;
        v = (lane < nwarps) ? warp_sums[lane] : 0.0f;
        v = simtest_warp_sum(v);
        if (lane == 0) partial[blockIdx.x] = v;
    }
}

// 2-D grid of 16x16 blocks: C[MxN] = A[MxK] * B[KxN], row-major, shared-memory tiles
#define SIMTEST_TILE 16
extern "C" __global__ void simtest_matmul_tiled(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
                                                int M, int N, int K) {
    __shared__ float As[SIMTEST_TILE][SIMTEST_TILE];
    __shared__ float Bs[SIMTEST_TILE][SIMTEST_TILE + 1];
    const int row = blockIdx.y * SIMTEST_TILE + threadIdx.y, col = blockIdx.x * SIMTEST_TILE + threadIdx.x;
    float acc = 0.0f;
    for (int t = 0; t < (K + SIMTEST_TILE - 1) / SIMTEST_TILE; ++t) {
        const int ak = t * SIMTEST_TILE + threadIdx.x, bk = t * SIMTEST_TILE + threadIdx.y;
        As[threadIdx.y][threadIdx.x] = (row < M && ak < K) ? A[row * K + ak] : 0.0f;
        Bs[threadIdx.y][threadIdx.x] = (bk < K && col < N) ? B[bk * N + col] : 0.0f;
        __syncthreads();
        for (int k = 0; k < SIMTEST_TILE; ++k) acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
        __syncthreads();
    }
    if (row < M && col < N) C[row * N + col] = acc;
}

// atomics across blocks: float total (warp shuffle + one atomicAdd per warp) and an int histogram
extern "C" __global__ void simtest_atomics(const float* __restrict__ in, const int* __restrict__ keys, float* __restrict__ total,
                                           int* __restrict__ hist, int nbins, int n) {
    float v = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        v += in[i];
        atomicAdd(&hist[keys[i] % nbins], 1);
    }
    v = simtest_warp_sum(v);
    if (threadIdx.x % warpSize == 0) atomicAdd(total, v);
}

// dynamic shared memory: reverse each block's chunk
extern "C" __global__ void simtest_dyn_reverse(const float* __restrict__ in, float* __restrict__ out, int n) {
    CUDASIM_DYNAMIC_SHARED(float, buf);
    const int base = blockIdx.x * blockDim.x, t = threadIdx.x;
    if (base + t < n) buf[t] = in[base + t];
    __syncthreads();
    const int len = min((int)blockDim.x, n - base);
    if (t < len) out[base + t] = buf[len - 1 - t];
}

// each thread reads its LEFT neighbour's shared element. barrier=0 omits the __syncthreads (a race): in forward
// fiber order the neighbour has already written (correct by luck), in reverse order it has not (wrong).
extern "C" __global__ void simtest_shift_left(const float* __restrict__ in, float* __restrict__ out, int n, int barrier) {
    __shared__ float s[1024];
    const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    s[t] = (i < n) ? in[i] : 0.0f;
    if (barrier) __syncthreads();
    if (i < n) out[i] = t > 0 ? s[t - 1] : 0.0f;
}

// BUG on purpose: writes one element past the end (y[n]); the guard page after the allocation catches it
extern "C" __global__ void simtest_oob_write(float* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i <= n; i += blockDim.x * gridDim.x) y[i] = 1.0f;
}

// BUG on purpose: __syncthreads in divergent code (CUDASIM_STRICT=1 -> CUDA_ERROR_LAUNCH_FAILED, else a warning)
extern "C" __global__ void simtest_divergent_sync(float* data) {
    if (threadIdx.x < 32) {
        data[threadIdx.x] += 1.0f;
        __syncthreads();
    }
    data[threadIdx.x] += 1.0f;
}

// device assert -> CUDA_ERROR_ASSERT
extern "C" __global__ void simtest_check_nonnegative(const float* __restrict__ x, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) assert(x[i] >= 0.0f);
}

// scale in place (used by the stream-capture / graph replay test)
extern "C" __global__ void simtest_scale(float* x, float a, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) x[i] *= a;
}
