package org.rfim4j.cudasim;

import static jcuda.driver.JCudaDriver.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.rfim4j.cudasim.Dev.*;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstreamCaptureStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The simulator's self-tests through JCuda's driver API: the kernels of native-test/cudasim/testkernels, loaded as
 * nvcc PTX and run by the stand-in libcuda.so.1 on the host-compiled copy. Written against the driver API only, so
 * the kernel checks also hold on a real GPU; simulator-specific checks call {@link CudaSimSupport#assumeSimulated()}.
 */
@GpuTest
class SimKernelsTest {
    static CUmodule mod;

    @BeforeAll
    static void load() {
        Dev.init();
        mod = new CUmodule();
        cuModuleLoadData(mod, CudaSimSupport.ptx("simtest_kernels"));
    }

    @AfterAll
    static void unload() {
        cuModuleUnload(mod);
    }

    @BeforeEach
    void current() {
        Dev.init();
    }

    static CUfunction fn(String name) {
        CUfunction f = new CUfunction();
        cuModuleGetFunction(f, mod, name);
        return f;
    }

    static Pointer args(Object... a) {
        Pointer[] p = new Pointer[a.length];
        for (int i = 0; i < a.length; i++) {
            Object o = a[i];
            if (o instanceof CUdeviceptr d) p[i] = Pointer.to(d);
            else if (o instanceof Integer v) p[i] = Pointer.to(new int[] {v});
            else if (o instanceof Float v) p[i] = Pointer.to(new float[] {v});
            else throw new IllegalArgumentException(String.valueOf(o));
        }
        return Pointer.to(p);
    }

    static float[] random(int n, long seed, float offset) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = r.nextFloat() + offset;
        return x;
    }

    @Test
    void deviceQueries() {
        int[] v = new int[1];
        cuDriverGetVersion(v);
        assertTrue(v[0] >= 12000, "driver version " + v[0]);
        cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, DEVICE);
        assertEquals(1024, v[0]);
        cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_WARP_SIZE, DEVICE);
        assertEquals(32, v[0]);
        long[] mem = new long[1];
        cuDeviceTotalMem(mem, DEVICE);
        assertTrue(mem[0] > 0);
        byte[] name = new byte[256];
        cuDeviceGetName(name, name.length, DEVICE);
        String s = new String(name, StandardCharsets.US_ASCII).trim();
        assertFalse(s.isEmpty());
        if (CudaSimSupport.simulated()) assertTrue(s.contains("cudasim"), s);
        CUcontext cur = new CUcontext();
        cuCtxGetCurrent(cur);
        assertEquals(Dev.ctx, cur);
    }

    @Test
    void gridStrideElementwise() {
        int n = 100_003;
        float a = 2.5f;
        float[] x = random(n, 1, 0), y = random(n, 2, 0);
        CUdeviceptr dx = upload(x), dy = upload(y);
        // grid much smaller than n: each thread strides over ~6 elements
        cuLaunchKernel(fn("simtest_saxpy"), 64, 1, 1, 256, 1, 1, 0, null, args(n, a, dx, dy), null);
        cuCtxSynchronize();
        float[] out = download(dy, n);
        for (int i = 0; i < n; i++) assertEquals(a * x[i] + y[i], out[i], 1e-6f * Math.max(1f, Math.abs(out[i])), "i=" + i);
        free(dx, dy);
    }

    @Test
    void sharedMemoryReduction() {
        int n = 256 * 128 - 77;  // partial last block
        float[] x = random(n, 3, -0.5f);
        int blocks = (n + 255) / 256;
        CUdeviceptr dx = upload(x), dp = alloc(blocks * 4L);
        cuLaunchKernel(fn("simtest_block_reduce"), blocks, 1, 1, 256, 1, 1, 0, null, args(dx, dp, n), null);
        float[] p = download(dp, blocks);
        for (int b = 0; b < blocks; b++) {
            double want = 0;
            for (int t = b * 256; t < Math.min(n, (b + 1) * 256); t++) want += x[t];
            assertEquals(want, p[b], 1e-4, "block " + b);
        }
        free(dx, dp);
    }

    @Test
    void warpShuffleReduction() {
        int n = 10_000, bs = 96;  // 3 warps per block, partial last block
        float[] x = random(n, 4, -0.5f);
        int blocks = (n + bs - 1) / bs;
        CUdeviceptr dx = upload(x), dp = alloc(blocks * 4L);
        cuLaunchKernel(fn("simtest_warp_reduce"), blocks, 1, 1, bs, 1, 1, 0, null, args(dx, dp, n), null);
        float[] p = download(dp, blocks);
        for (int b = 0; b < blocks; b++) {
            double want = 0;
            for (int t = b * bs; t < Math.min(n, (b + 1) * bs); t++) want += x[t];
            assertEquals(want, p[b], 1e-4, "block " + b);
        }
        free(dx, dp);
    }

    @Test
    void tiledMatmul2D() {
        int M = 70, N = 50, K = 33;  // edge tiles in every dimension
        float[] A = random(M * K, 5, 0), B = random(K * N, 6, 0);
        CUdeviceptr dA = upload(A), dB = upload(B), dC = alloc(4L * M * N);
        cuLaunchKernel(fn("simtest_matmul_tiled"), (N + 15) / 16, (M + 15) / 16, 1, 16, 16, 1, 0, null, args(dA, dB, dC, M, N, K), null);
        float[] C = download(dC, M * N);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double acc = 0;
                for (int k = 0; k < K; k++) acc += (double) A[i * K + k] * B[k * N + j];
                assertEquals(acc, C[i * N + j], 1e-4, "C[" + i + "," + j + "]");
            }
        free(dA, dB, dC);
    }

    @Test
    void atomicsAcrossBlocks() {
        int n = 50_000, nbins = 7;
        float[] x = random(n, 7, 0);
        int[] keys = new int[n];
        Random r = new Random(8);
        for (int i = 0; i < n; i++) keys[i] = r.nextInt(1000);
        CUdeviceptr dx = upload(x), dk = upload(keys), dt = alloc(4), dh = alloc(4L * nbins);
        cuMemsetD32(dt, 0, 1);
        cuMemsetD32(dh, 0, nbins);
        cuLaunchKernel(fn("simtest_atomics"), 32, 1, 1, 128, 1, 1, 0, null, args(dx, dk, dt, dh, nbins, n), null);
        double want = 0;
        int[] hist = new int[nbins];
        for (int i = 0; i < n; i++) {
            want += x[i];
            hist[keys[i] % nbins]++;
        }
        assertEquals(want, download(dt, 1)[0], 1e-5 * want);
        assertArrayEquals(hist, downloadInts(dh, nbins));
        free(dx, dk, dt, dh);
    }

    @Test
    void dynamicSharedMemoryAndItsLimit() {
        int n = 1000, bs = 128;
        float[] x = random(n, 9, 0);
        CUdeviceptr dx = upload(x), dy = alloc(4L * n);
        cuLaunchKernel(fn("simtest_dyn_reverse"), (n + bs - 1) / bs, 1, 1, bs, 1, 1, bs * 4, null, args(dx, dy, n), null);
        float[] y = download(dy, n);
        for (int base = 0; base < n; base += bs) {
            int len = Math.min(bs, n - base);
            for (int t = 0; t < len; t++) assertEquals(x[base + len - 1 - t], y[base + t]);
        }
        // 64 KiB of dynamic shared memory without cuFuncSetAttribute: over the default 48 KiB limit
        assertEquals("CUDA_ERROR_INVALID_VALUE", error(() ->
                cuLaunchKernel(fn("simtest_dyn_reverse"), 1, 1, 1, bs, 1, 1, 64 * 1024, null, args(dx, dy, n), null)));
        free(dx, dy);
    }

    @Test
    void streamsAsyncCopiesMemsetsEvents() {
        int n = 4096;
        CUstream s = new CUstream();
        cuStreamCreate(s, 0);
        CUevent e0 = new CUevent(), e1 = new CUevent();
        cuEventCreate(e0, 0);
        cuEventCreate(e1, 0);
        float[] x = random(n, 10, 0);
        CUdeviceptr a = alloc(4L * n), b = alloc(4L * n);
        cuEventRecord(e0, s);
        cuMemcpyHtoDAsync(a, Pointer.to(x), 4L * n, s);
        cuMemcpyDtoDAsync(b, a, 4L * n, s);
        cuMemsetD32Async(a, Float.floatToRawIntBits(1.5f), n / 2, s);
        cuMemsetD8Async(a.withByteOffset(4L * (n - 1)), (byte) 0, 4, s);
        cuEventRecord(e1, s);
        cuStreamSynchronize(s);
        cuEventSynchronize(e1);
        float[] ms = new float[1];
        cuEventElapsedTime(ms, e0, e1);
        assertTrue(ms[0] >= 0f);
        float[] ha = new float[n], hb = new float[n];
        cuMemcpyDtoHAsync(Pointer.to(hb), b, 4L * n, s);
        cuStreamSynchronize(s);
        cuMemcpyDtoH(Pointer.to(ha), a, 4L * n);
        assertArrayEquals(x, hb);
        for (int i = 0; i < n / 2; i++) assertEquals(1.5f, ha[i]);
        for (int i = n / 2; i < n - 1; i++) assertEquals(x[i], ha[i]);
        assertEquals(0f, ha[n - 1]);
        free(a, b);
        cuEventDestroy(e0);
        cuEventDestroy(e1);
        cuStreamDestroy(s);
    }

    @Test
    void streamCaptureAndGraphReplay() {
        int n = 3000;
        float[] x = random(n, 11, 0);
        CUdeviceptr dx = upload(x), dy = alloc(4L * n);
        CUstream s = new CUstream();
        cuStreamCreate(s, 0);
        cuStreamBeginCapture(s, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL);
        int[] status = new int[1];
        cuStreamIsCapturing(s, status);
        assertEquals(CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_ACTIVE, status[0]);
        float[] factor = {2f};
        cuLaunchKernel(fn("simtest_scale"), 8, 1, 1, 128, 1, 1, 0, s, Pointer.to(Pointer.to(dx), Pointer.to(factor), Pointer.to(new int[] {n})), null);
        factor[0] = 100f;  // parameter values are captured at launch time, not read at replay
        cuMemcpyDtoDAsync(dy, dx, 4L * n, s);
        cuLaunchKernel(fn("simtest_scale"), 8, 1, 1, 128, 1, 1, 0, s, args(dy, 0.5f, n), null);
        CUgraph g = new CUgraph();
        cuStreamEndCapture(s, g);
        // nothing ran during capture
        assertArrayEquals(x, download(dx, n));
        CUgraphExec ge = new CUgraphExec();
        cuGraphInstantiate(ge, g, 0);
        cuGraphLaunch(ge, s);
        cuGraphLaunch(ge, s);
        cuStreamSynchronize(s);
        float[] hx = download(dx, n), hy = download(dy, n);
        for (int i = 0; i < n; i++) {
            assertEquals(x[i] * 4f, hx[i], 1e-6f * hx[i]);
            assertEquals(x[i] * 2f, hy[i], 1e-6f * hy[i]);
        }
        cuGraphExecDestroy(ge);
        cuGraphDestroy(g);
        // a synchronous allocation during a global-mode capture is refused and invalidates the capture
        cuStreamBeginCapture(s, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL);
        assertEquals("CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", error(() -> alloc(16)));
        assertEquals("CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", error(() -> cuStreamEndCapture(s, new CUgraph())));
        cuStreamDestroy(s);
        free(dx, dy);
    }

    @Test
    void launchOver1024ThreadsPerBlockIsInvalidValue() {
        CUdeviceptr d = alloc(4 * 2048);
        assertEquals("CUDA_ERROR_INVALID_VALUE", error(() ->
                cuLaunchKernel(fn("simtest_scale"), 1, 1, 1, 2048, 1, 1, 0, null, args(d, 1f, 2048), null)));
        assertEquals("CUDA_ERROR_INVALID_VALUE", error(() ->
                cuLaunchKernel(fn("simtest_scale"), 1, 1, 1, 32, 32, 2, 0, null, args(d, 1f, 2048), null)));
        // the context is still usable: a configuration error is not sticky
        cuLaunchKernel(fn("simtest_scale"), 1, 1, 1, 1024, 1, 1, 0, null, args(d, 1f, 0), null);
        free(d);
    }

    @Test
    void callOnThreadWithoutCurrentContextIsInvalidContext() throws Exception {
        AtomicReference<String> got = new AtomicReference<>();
        Thread t = new Thread(() -> got.set(error(() -> alloc(64))));
        t.start();
        t.join();
        assertEquals("CUDA_ERROR_INVALID_CONTEXT", got.get());
        // with cuCtxSetCurrent on that thread it works
        Thread t2 = new Thread(() -> got.set(error(() -> {
            cuCtxSetCurrent(Dev.ctx);
            cuMemFree(alloc(64));
        })));
        t2.start();
        t2.join();
        assertEquals("CUDA_SUCCESS", got.get());
    }

    @Test
    void missingKernelIsNotFound() {
        assertEquals("CUDA_ERROR_NOT_FOUND", error(() -> fn("no_such_kernel")));
    }

    @Test
    void stalePtxParameterSizesAreInvalidImage() {
        CudaSimSupport.assumeSimulated();
        // as if the PTX were built from an older source where simtest_scale took a double factor
        String ptx = new String(CudaSimSupport.ptx("simtest_kernels"), StandardCharsets.US_ASCII);
        String stale = ptx.replace(".param .f32 simtest_scale_param_1", ".param .f64 simtest_scale_param_1");
        assertNotEquals(ptx, stale, "PTX layout changed: update this test");
        CUmodule m = new CUmodule();
        cuModuleLoadData(m, stale.getBytes(StandardCharsets.US_ASCII));
        assertEquals("CUDA_ERROR_INVALID_IMAGE", error(() -> cuModuleGetFunction(new CUfunction(), m, "simtest_scale")));
        cuModuleUnload(m);
    }

    @Test
    void unsimulatedDriverFunctionIsNotSupported() {
        CudaSimSupport.assumeSimulated();
        assertEquals("CUDA_ERROR_NOT_SUPPORTED", error(() -> cuMemAllocManaged(new CUdeviceptr(), 64, 1)));
    }
}
