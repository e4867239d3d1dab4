// common.cuh - device-dialect prologue shared by every kernels/*.cu file.
// Under nvcc (__CUDACC__) this is real CUDA; under g++ (the CUDA simulator, see
// docs cuda-simulator.md section 4) it pulls in the emulation header cudasim.h.
// NOTE: the CUDA-simulator branch owns this file; this copy only carries the minimal
// definitions the kernels need, so the lead may take the simulator's version on merge.
#pragma once
#if defined(__CUDACC__)
#define CUDASIM_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#else
#include "cudasim.h"
#endif
