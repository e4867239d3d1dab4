package org.rfim4j.cudasim;

import static jcuda.driver.JCudaDriver.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.rfim4j.cudasim.Dev.*;

import java.util.Random;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Bugs the simulator must catch (deliberately wrong kernels in testkernels/simtest_kernels.cu). On a GPU these are
 * undefined behaviour, so every test here needs the simulator. Kernel faults are sticky, as on a GPU: the context is
 * reset afterwards (which frees all allocations and modules' state), so each test loads its own module.
 */
@GpuTest
class SimFaultsTest {
    CUmodule mod;

    @BeforeEach
    void load() {
        CudaSimSupport.assumeSimulated();
        Dev.init();
        mod = new CUmodule();
        cuModuleLoadData(mod, CudaSimSupport.ptx("simtest_kernels"));
    }

    @AfterEach
    void unload() {
        if (mod != null) cuModuleUnload(mod);
    }

    CUfunction fn(String name) {
        CUfunction f = new CUfunction();
        cuModuleGetFunction(f, mod, name);
        return f;
    }

    @Test
    void outOfBoundsWriteIsIllegalAddressAndSticky() {
        int n = 1024;  // 4096 bytes: the allocation ends exactly at its guard page
        CUdeviceptr y = alloc(4L * n);
        String err = error(() -> cuLaunchKernel(fn("simtest_oob_write"), 4, 1, 1, 128, 1, 1, 0, null,
                Pointer.to(Pointer.to(y), Pointer.to(new int[] {n})), null));
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", err);
        // sticky, like a real device fault: every later call on the context fails the same way ...
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", error(() -> alloc(16)));
        // ... until the primary context is reset
        Dev.reset();
        mod = new CUmodule();
        cuModuleLoadData(mod, CudaSimSupport.ptx("simtest_kernels"));
        CUdeviceptr ok = alloc(4L * n);
        cuLaunchKernel(fn("simtest_oob_write"), 4, 1, 1, 128, 1, 1, 0, null,
                Pointer.to(Pointer.to(ok), Pointer.to(new int[] {n - 1})), null);  // in bounds now
        float[] h = download(ok, n);
        for (float v : h) assertEquals(1f, v);
        free(ok);
    }

    @Test
    void deviceAssertIsAssertError() {
        float[] x = {1f, 2f, -3f, 4f};
        CUdeviceptr d = upload(x);
        assertEquals("CUDA_ERROR_ASSERT", error(() -> cuLaunchKernel(fn("simtest_check_nonnegative"), 1, 1, 1, 32, 1, 1, 0, null,
                Pointer.to(Pointer.to(d), Pointer.to(new int[] {x.length})), null)));
        Dev.reset();
    }

    /**
     * simtest_shift_left reads the left neighbour's __shared__ element. With the barrier it is correct in every order.
     * Without it, the forward fiber order hides the race (the neighbour already ran) and the reverse order exposes it.
     */
    @Test
    void missingSyncthreadsIsExposedByReverseOrder() {
        int n = 256 * 16, bs = 256;
        float[] x = new float[n];
        Random r = new Random(12);
        for (int i = 0; i < n; i++) x[i] = 1f + r.nextFloat();
        CUdeviceptr dx = upload(x), dy = alloc(4L * n);
        int wrongWithBarrier = wrong(x, dx, dy, n, bs, 1), wrongWithout = wrong(x, dx, dy, n, bs, 0);
        assertEquals(0, wrongWithBarrier, "with __syncthreads the result is correct in every order");
        switch (CudaSimSupport.order()) {
            case "reverse" -> assertEquals(n - n / bs, wrongWithout, "reverse order: every thread but lane 0 reads a stale value");
            case "forward" -> assertEquals(0, wrongWithout, "forward order hides this race (run with CUDASIM_ORDER=reverse)");
            default -> assertTrue(wrongWithout > 0, "random order exposes the race");
        }
        free(dx, dy);
    }

    private int wrong(float[] x, CUdeviceptr dx, CUdeviceptr dy, int n, int bs, int barrier) {
        cuMemsetD32(dy, 0, n);
        cuLaunchKernel(fn("simtest_shift_left"), n / bs, 1, 1, bs, 1, 1, 0, null,
                Pointer.to(Pointer.to(dx), Pointer.to(dy), Pointer.to(new int[] {n}), Pointer.to(new int[] {barrier})), null);
        float[] y = download(dy, n);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            float want = i % bs == 0 ? 0f : x[i - 1];
            if (y[i] != want) bad++;
        }
        return bad;
    }

    @Test
    void divergentSyncthreadsFailsInStrictMode() {
        CUdeviceptr d = upload(new float[128]);
        String err = error(() -> cuLaunchKernel(fn("simtest_divergent_sync"), 1, 1, 1, 128, 1, 1, 0, null,
                Pointer.to(Pointer.to(d)), null));
        if (CudaSimSupport.strict()) {
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", err);
            Dev.reset();
        } else {
            assertEquals("CUDA_SUCCESS", err);  // only a warning on stderr
            free(d);
        }
    }
}
