// common.cuh - the device-dialect prologue every kernels/*.cu includes first (one source, two compilers):
//   nvcc -ptx           (__CUDACC__ defined)  -> real CUDA; the PTX the Java backend loads
//   g++ (cudasim build)  (__CUDACC__ absent)  -> native-test/cudasim/include/cudasim.h emulates the dialect and the
//                                                 stand-in libcuda.so.1 runs the host-compiled kernels (tests, CI)
// Rules (docs/cudasim.md, docs/cuda-simulator.md section 4): extern "C" __global__ entries with unique names,
// dynamic shared memory only via CUDASIM_DYNAMIC_SHARED(T, name), __syncthreads only in block-uniform control
// flow, full-warp shuffles/votes, no inline asm / __noinline__ / textures / cooperative groups.
#pragma once
#ifdef __CUDACC__
#define CUDASIM_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#else
#include "cudasim.h"
#endif
