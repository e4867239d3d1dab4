/**
 * The CPU {@link org.rfim4j.backend.Backend}s: the float64 reference {@link
 * org.rfim4j.backend.cpu.CpuBackend} ({@code double[]} slices on the heap) and the float32 engine {@link
 * org.rfim4j.backend.cpu.CpuBackend32} ({@code float[]} slices). Both extend one facade, {@code CpuEngine},
 * which holds every operation's argument checks and thread split once; each engine supplies its kernels.
 * The float32 kernel classes carry the suffix 32 and mirror the float64 ones below (Java has no generics over
 * primitive arrays). Everything below describes the float64 engine; the float32 one takes the same paths
 * with the S routines ({@code sgemm}, {@code sgemv}, {@code spotrf} + {@code spotri}), see its
 * class comment and {@code docs/cpu-performance.md}.
 *
 * <h2>What runs where</h2>
 *
 * <p>The backend has two paths, chosen once per instance ({@link
 * org.rfim4j.backend.cpu.CpuBackend.GemmPath}):
 *
 * <ul>
 *   <li><b>JAVA</b>: everything in Java: packed, register-tiled GEMM and Gram kernels, a row-oriented
 *       Cholesky with a triangular inverse for {@code batchedInverse}, split over a small pool of worker
 *       threads.
 *       This is the default when netlib finds no native BLAS (netlib's own Java fallback measured
 *       slower).
 *   <li><b>NETLIB</b>: {@code dev.ludovic.netlib}. {@code gemm} calls {@code dgemm}. When netlib loaded a
 *       native BLAS the metric updates use it too: the shared metric's Gram matrix on the batch's support
 *       columns by one {@code dgemm}, each per-neuron metric by one {@code dgemm} whose beta is the moving
 *       average's keep ({@code G_i = add S_i^T S_i + keep G_i}, row k of {@code S_i} being
 *       {@code sqrt(max(nu[k][i], 0)) h~_k}, as on CUDA). Entries (x, y) and (y, x)
 *       sum the same products in the same order, so symmetric metrics stay exactly symmetric. When netlib loaded a
 *       native LAPACK, {@code batchedInverse} uses {@code dpotrf} + {@code dpotri} (same symmetrisation,
 *       damping, failure status and untouched-slice-on-failure as the Java path; a matrix with a
 *       non-finite entry goes through the Java Cholesky). Without a native library these operations keep
 *       the Java kernels. NETLIB is the default when a native BLAS loads.
 * </ul>
 *
 * <p>The system property {@code rfim4j.cpu.gemm=java|netlib} overrides the default; {@code new
 * CpuBackend(threads, GemmPath)} chooses explicitly. {@link
 * org.rfim4j.backend.cpu.CpuBackend#nativeMetricUpdates()} and {@link
 * org.rfim4j.backend.cpu.CpuBackend#nativeInverse()} tell what an instance uses.
 *
 * <h2>Where the code is</h2>
 *
 * <p>{@link org.rfim4j.backend.cpu.CpuBackend} and {@link org.rfim4j.backend.cpu.CpuBackend32} are the public
 * classes. Their package-private base {@code CpuEngine} checks every argument and calls the engine's kernel
 * method, which delegates to package-private classes, one concern each:
 *
 * <ul>
 *   <li>{@code GemmKernels}: {@code gemm}, the Java kernel and the netlib {@code dgemm} dispatch;
 *       {@code TileKernels}: the transpose, 4 x 4 dot-product tile and dot product the Java kernels share.
 *   <li>{@code MetricUpdates}: the shared and per-neuron metric updates (Java, native BLAS) and
 *       {@code addDiagonal}; {@code CholeskyInverse}: {@code batchedInverse} (Java, native LAPACK);
 *       {@code Preconditioner}: {@code perNeuronPrecondition}.
 *   <li>{@code VectorOps}, {@code LayerOps}, {@code OptimizerOps}: the vector, layer (activation, nu
 *       coefficients, softmax cross-entropy, batch normalisation) and optimizer (SGD, Adam) loops.
 *   <li>{@code CpuArgs}: the argument checks; {@code ParallelBlocks}: the parallel-for (spinning
 *       workers); {@code SplitBlas}: native BLAS calls split over the threads;
 *       {@code Scratch}: the reused scratch buffers; {@code NetlibNative}: whether netlib loaded a native
 *       BLAS and LAPACK; {@code CpuArray}: the array type.
 * </ul>
 *
 * <h2>Enabling OpenBLAS</h2>
 *
 * <p>netlib loads the system's {@code libblas.so.3} and {@code liblapack.so.3}. On Debian or Ubuntu:
 * {@code apt-get install libopenblas0-pthread} (it registers OpenBLAS as both through
 * update-alternatives). To load another library, pass {@code
 * -Ddev.ludovic.netlib.blas.nativeLib=libopenblas.so.0} (or {@code
 * -Ddev.ludovic.netlib.blas.nativeLibPath=/full/path/libopenblas.so.0}), and likewise {@code
 * dev.ludovic.netlib.lapack.nativeLib} / {@code nativeLibPath} for LAPACK. OpenBLAS runs its own
 * threads; the environment variable {@code OPENBLAS_NUM_THREADS} sets their number. With
 * {@code OPENBLAS_NUM_THREADS=1} (the {@code ./rfim4j} launcher's default) the backend splits large calls
 * over its own threads instead ({@code SplitBlas}), which measured faster at the paper's sizes; see
 * {@code docs/cpu-performance.md}.
 */
package org.rfim4j.backend.cpu;
