/**
 * The CUDA backend: {@link org.rfim4j.backend.cuda.CudaBackend} (float32 on one GPU through the JCuda driver
 * API, JCublas2 and JCusolverDn, with the PTX kernels built from kernels/*.cu), the package-private parts it
 * forwards to ({@code CudaArrays}: allocation, transfers and argument checks; {@code CudaAlgebra}: GEMM,
 * level-1 ops and gathers; {@code CudaLayers}: activation, loss and batch-norm kernels;
 * {@code CudaOptimizers}: SGD and Adam; {@code CudaRngd}: the RNGD metric, inversion and preconditioning;
 * {@code CudaGraphStep}, {@code StepRecorder} and {@code GraphParameters}: captured steps), its runtime pieces
 * ({@code CudaRuntime}, {@code Kernels}, {@code Cublas}, {@code Cusolver}) and
 * {@link org.rfim4j.backend.cuda.CudaProbe}, which decides from files alone whether CUDA is usable, and
 * {@link org.rfim4j.backend.cuda.CudaBackendProvider}, the {@link org.rfim4j.backend.BackendProvider}
 * registered in META-INF/services through which {@link org.rfim4j.backend.BackendSelector} finds this backend.
 *
 * <p>This is the only package that may reference {@code jcuda.*}; {@code CudaProbe}, {@code CudaCompat} and
 * {@code CudaBackendProvider} reference no JCuda class, so probing never loads JCuda natives. Depends only on
 * {@code org.rfim4j.backend}. See docs/cuda.md.
 */
package org.rfim4j.backend.cuda;
