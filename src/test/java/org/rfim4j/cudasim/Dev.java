package org.rfim4j.cudasim;

import static jcuda.driver.JCudaDriver.*;

import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/** Small driver-API helpers shared by the GPU tests (primary context, copies). Touch only after CudaSimSupport.init(). */
final class Dev {
    static final CUdevice DEVICE = new CUdevice();
    static CUcontext ctx;

    private Dev() {}

    /** cuInit + retain the primary context and make it current on this thread (idempotent). */
    static synchronized void init() {
        CudaSimSupport.init();
        JCudaDriver.setExceptionsEnabled(true);
        if (ctx == null) {
            cuInit(0);
            cuDeviceGet(DEVICE, 0);
            ctx = new CUcontext();
            cuDevicePrimaryCtxRetain(ctx, DEVICE);
        }
        cuCtxSetCurrent(ctx);
    }

    /** After a sticky kernel fault: reset the primary context (frees all allocations) and make it current again. */
    static synchronized void reset() {
        cuDevicePrimaryCtxReset(DEVICE);
        cuDevicePrimaryCtxRetain(ctx, DEVICE);
        cuCtxSetCurrent(ctx);
    }

    static CUdeviceptr alloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, bytes);
        return p;
    }

    static CUdeviceptr upload(float[] h) {
        CUdeviceptr p = alloc((long) h.length * Sizeof.FLOAT);
        cuMemcpyHtoD(p, Pointer.to(h), (long) h.length * Sizeof.FLOAT);
        return p;
    }

    static CUdeviceptr upload(int[] h) {
        CUdeviceptr p = alloc((long) h.length * Sizeof.INT);
        cuMemcpyHtoD(p, Pointer.to(h), (long) h.length * Sizeof.INT);
        return p;
    }

    static float[] download(CUdeviceptr p, int n) {
        float[] h = new float[n];
        cuMemcpyDtoH(Pointer.to(h), p, (long) n * Sizeof.FLOAT);
        return h;
    }

    static int[] downloadInts(CUdeviceptr p, int n) {
        int[] h = new int[n];
        cuMemcpyDtoH(Pointer.to(h), p, (long) n * Sizeof.INT);
        return h;
    }

    static void free(CUdeviceptr... ps) {
        for (CUdeviceptr p : ps) cuMemFree(p);
    }

    /** The CUresult name of a failed call (JCuda exceptions carry it as message). */
    static String error(Runnable call) {
        try {
            call.run();
        } catch (CudaException e) {
            return e.getMessage();
        }
        return "CUDA_SUCCESS";
    }
}
