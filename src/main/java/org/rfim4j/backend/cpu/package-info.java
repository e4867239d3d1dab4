/**
 * The pure-Java float64 reference {@link org.rfim4j.backend.Backend}: {@link
 * org.rfim4j.backend.cpu.CpuBackend}. Arrays are {@code double[]} slices on the heap; GEMM-shaped work
 * uses blocked Java kernels (or netlib BLAS where measured faster) and a small fork-join pool.
 */
package org.rfim4j.backend.cpu;
