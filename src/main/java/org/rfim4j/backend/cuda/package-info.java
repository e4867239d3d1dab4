/**
 * The CUDA backend: {@link org.rfim4j.backend.cuda.CudaBackend} (float32 on one GPU through the JCuda driver
 * API, JCublas2 and JCusolverDn, with the PTX kernels built from kernels/*.cu), its runtime pieces
 * ({@code CudaRuntime}, {@code Kernels}, {@code Cublas}, {@code Cusolver}) and
 * {@link org.rfim4j.backend.cuda.CudaProbe}, which decides from files alone whether CUDA is usable.
 *
 * <p>This is the only package that may reference {@code jcuda.*}; {@code CudaProbe} and {@code CudaCompat}
 * reference no JCuda class, so probing never loads JCuda natives. Depends only on
 * {@code org.rfim4j.backend}. See docs/cuda.md.
 */
package org.rfim4j.backend.cuda;
