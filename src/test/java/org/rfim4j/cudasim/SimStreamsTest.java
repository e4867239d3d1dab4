package org.rfim4j.cudasim;

import static jcuda.driver.JCudaDriver.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.rfim4j.cudasim.Dev.*;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Stream semantics the backend relies on. The first two tests hold on a GPU too; the others check the simulator's
 * strict stream mode (CUDASIM_STRICT_STREAMS=1, the first cudasim surefire run), where work on a created stream runs
 * only when the host waits for it, as on a GPU that is far behind: a free of memory that queued work still uses is
 * refused, a pageable upload is staged at the call, a pinned one is read when the copy runs.
 */
@GpuTest
class SimStreamsTest {
    static CUmodule mod;
    static CUfunction scale;

    @BeforeAll
    static void load() {
        Dev.init();
        mod = new CUmodule();
        cuModuleLoadData(mod, CudaSimSupport.ptx("simtest_kernels"));
        scale = new CUfunction();
        cuModuleGetFunction(scale, mod, "simtest_scale");
    }

    @AfterAll
    static void unload() {
        cuModuleUnload(mod);
    }

    @BeforeEach
    void current() {
        Dev.init();
    }

    static void scaleOn(CUstream s, CUdeviceptr x, float a, int n) {
        cuLaunchKernel(scale, (n + 127) / 128, 1, 1, 128, 1, 1, 0, s,
                Pointer.to(Pointer.to(x), Pointer.to(new float[] {a}), Pointer.to(new int[] {n})), null);
    }

    static void assumeStrictStreams() {
        CudaSimSupport.assumeSimulated();
        Assumptions.assumeTrue(CudaSimSupport.strictStreams(), "needs CUDASIM_STRICT_STREAMS=1 (the first cudasim run)");
    }

    /** A synchronous copy belongs to the legacy stream, which waits for the work of every blocking stream. */
    @Test
    void synchronousCopyWaitsForQueuedWorkOfBlockingStreams() {
        int n = 1000;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i;
        CUdeviceptr d = upload(x);
        CUstream s = new CUstream();
        cuStreamCreate(s, 0);
        scaleOn(s, d, 3f, n);
        scaleOn(s, d, 0.5f, n);
        float[] got = download(d, n);
        for (int i = 0; i < n; i++) assertEquals(1.5f * i, got[i], "i=" + i);
        cuStreamDestroy(s);
        free(d);
    }

    /** cuEventElapsedTime refuses events made with CU_EVENT_DISABLE_TIMING, as the driver does. */
    @Test
    void eventsWithoutTimingCannotBeTimed() {
        CUstream s = new CUstream();
        cuStreamCreate(s, 0);
        CUevent a = new CUevent(), b = new CUevent();
        cuEventCreate(a, CUevent_flags.CU_EVENT_DISABLE_TIMING);
        cuEventCreate(b, CUevent_flags.CU_EVENT_DISABLE_TIMING);
        cuEventRecord(a, s);
        cuEventRecord(b, s);
        cuEventSynchronize(b);
        assertEquals("CUDA_ERROR_INVALID_HANDLE", error(() -> cuEventElapsedTime(new float[1], a, b)));
        cuEventDestroy(a);
        cuEventDestroy(b);
        cuStreamDestroy(s);
    }

    @Test
    void freeingMemoryThatQueuedWorkUsesIsRefused() {
        assumeStrictStreams();
        int n = 256;
        CUdeviceptr d = alloc(4L * n);
        CUstream s = new CUstream();
        cuStreamCreate(s, 0);
        scaleOn(s, d, 2f, n);
        assertEquals("CUDA_ERROR_ILLEGAL_STATE", error(() -> cuMemFree(d)), "a kernel queued on s still uses d");
        cuStreamSynchronize(s);
        assertEquals("CUDA_SUCCESS", error(() -> cuMemFree(d)), "after the stream is idle the free is fine");
        cuStreamDestroy(s);
    }

    @Test
    void pageableUploadIsStagedAtTheCallPinnedUploadIsReadWhenItRuns() {
        assumeStrictStreams();
        int n = 64;
        CUstream s = new CUstream();
        cuStreamCreate(s, 0);
        CUdeviceptr d1 = alloc(4L * n), d2 = alloc(4L * n);
        float[] pageable = new float[n];
        java.util.Arrays.fill(pageable, 1f);
        cuMemcpyHtoDAsync(d1, Pointer.to(pageable), 4L * n, s);
        java.util.Arrays.fill(pageable, 2f);  // after the call: the driver has taken the bytes already
        Pointer pinned = new Pointer();
        cuMemAllocHost(pinned, 4L * n);
        java.nio.FloatBuffer fb = pinned.getByteBuffer(0, 4L * n).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
        for (int i = 0; i < n; i++) fb.put(i, 1f);
        cuMemcpyHtoDAsync(d2, pinned, 4L * n, s);
        for (int i = 0; i < n; i++) fb.put(i, 2f);  // before the copy ran: it reads these (a race on a GPU)
        assertEquals("CUDA_ERROR_ILLEGAL_STATE", error(() -> cuMemFreeHost(pinned)), "the queued copy still reads it");
        cuStreamSynchronize(s);
        assertEquals(1f, download(d1, n)[n - 1], "pageable: staged at the call");
        assertEquals(2f, download(d2, n)[n - 1], "pinned: read when the copy runs");
        cuMemFreeHost(pinned);
        free(d1, d2);
        cuStreamDestroy(s);
    }

    /**
     * Cross-stream capture as the backend's RNGD refresh uses it (and as the driver does it): a second stream that
     * waits on an event recorded in a capture joins it; its work is part of the graph once the capture waits on an
     * event it records after that work; a capture ended with a joined stream's work not waited on fails with
     * CUDA_ERROR_STREAM_CAPTURE_UNJOINED.
     */
    @Test
    void aForkedStreamJoinsTheCaptureAndMustBeJoinedBack() {
        int n = 300;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i;
        CUdeviceptr a = upload(x), b = upload(x);
        CUstream main = new CUstream(), side = new CUstream();
        cuStreamCreate(main, 0);
        cuStreamCreate(side, 0);
        CUevent fork = new CUevent(), join = new CUevent();
        cuEventCreate(fork, CUevent_flags.CU_EVENT_DISABLE_TIMING);
        cuEventCreate(join, CUevent_flags.CU_EVENT_DISABLE_TIMING);
        cuStreamBeginCapture(main, 1);
        scaleOn(main, a, 2f, n);
        cuEventRecord(fork, main);
        cuStreamWaitEvent(side, fork, 0);
        scaleOn(side, b, 3f, n);      // on the side stream, inside the capture
        scaleOn(main, a, 5f, n);      // concurrently on the main stream
        cuEventRecord(join, side);
        cuStreamWaitEvent(main, join, 0);
        scaleOn(main, b, 0.5f, n);    // after the join: sees the side stream's work
        jcuda.driver.CUgraph g = new jcuda.driver.CUgraph();
        cuStreamEndCapture(main, g);
        jcuda.driver.CUgraphExec e = new jcuda.driver.CUgraphExec();
        cuGraphInstantiate(e, g, 0);
        cuGraphLaunch(e, main);
        cuStreamSynchronize(main);
        float[] ga = download(a, n), gb = download(b, n);
        for (int i = 0; i < n; i++) {
            assertEquals(10f * i, ga[i], "a[" + i + "]");
            assertEquals(1.5f * i, gb[i], "b[" + i + "]");
        }
        cuGraphExecDestroy(e);
        cuGraphDestroy(g);
        // the side stream left its capture with the end of the capture: it works on its own again
        scaleOn(side, b, 2f, n);
        cuStreamSynchronize(side);
        assertEquals(3f, download(b, n)[1]);
        if (CudaSimSupport.simulated()) {  // what a GPU leaves behind a failed capture is not modelled
            // a fork whose last work the capture never waits on
            cuStreamBeginCapture(main, 1);
            cuEventRecord(fork, main);
            cuStreamWaitEvent(side, fork, 0);
            scaleOn(side, b, 3f, n);
            jcuda.driver.CUgraph bad = new jcuda.driver.CUgraph();
            assertEquals("CUDA_ERROR_STREAM_CAPTURE_UNJOINED", error(() -> cuStreamEndCapture(main, bad)));
            scaleOn(side, b, 1f, n);  // released: plain work again
            cuStreamSynchronize(side);
        }
        cuEventDestroy(fork);
        cuEventDestroy(join);
        cuStreamDestroy(side);
        cuStreamDestroy(main);
        free(a, b);
    }
}
