package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;

/**
 * Function handles of every kernel in kernels/*.cu and a typed launcher. Kernel parameters are passed as
 * {@link CUdeviceptr} (a null Java reference becomes a device NULL), {@link Integer} (C int),
 * {@link Long} (C long long) and {@link Float} (C float); the boxed type must match the C signature, which
 * the simulator checks against the PTX {@code .param} sizes.
 */
final class Kernels {
  /** Threads per block for element-wise kernels (a multiple of 32, as the reductions require). */
  static final int BLOCK = 256;

  private final CudaRuntime rt;
  private final int maxBlocks;

  final CUfunction fill;
  final CUfunction axpy;
  final CUfunction scale;
  final CUfunction gatherRows;
  final CUfunction columnSums;
  final CUfunction dotPartial;
  final CUfunction biasActivationFwd;
  final CUfunction activationBwd;
  final CUfunction nuCoefficients;
  final CUfunction softmaxXent;
  final CUfunction softmaxNu;
  final CUfunction bnFwdTrain;
  final CUfunction bnFwdInfer;
  final CUfunction bnBwd;
  final CUfunction sgd;
  final CUfunction sgdMomentum;
  final CUfunction adam;
  final CUfunction scaledHtilde;
  final CUfunction mirrorUpperToLower;
  final CUfunction symDamp;
  final CUfunction addDiagonal;
  final CUfunction copyOkSlices;
  final CUfunction pointerTables;
  final CUfunction inverseStatus;
  final CUfunction sgdMulti;
  final CUfunction adamMulti;
  final CUfunction gatherBatch;
  final CUfunction scaledHtildeAct;
  final CUfunction scaledHtildeMulti;
  final CUfunction preconditionMulti;
  final CUfunction copyOkUpper;
  final CUfunction symDampWide;

  /** Number of blocks of {@link #dotPartial} (size of its partial-sum workspace). */
  static final int DOT_BLOCKS = 256;

  Kernels(CudaRuntime rt) {
    this.rt = rt;
    this.maxBlocks = Math.max(64, rt.multiprocessors * 8);
    rt.loadModules();
    fill = rt.function("rfim_fill");
    axpy = rt.function("rfim_axpy");
    scale = rt.function("rfim_scale");
    gatherRows = rt.function("rfim_gather_rows");
    columnSums = rt.function("rfim_column_sums");
    dotPartial = rt.function("rfim_dot_partial");
    biasActivationFwd = rt.function("rfim_bias_activation_fwd");
    activationBwd = rt.function("rfim_activation_bwd");
    nuCoefficients = rt.function("rfim_nu_coefficients");
    softmaxXent = rt.function("rfim_softmax_xent");
    softmaxNu = rt.function("rfim_softmax_nu");
    bnFwdTrain = rt.function("rfim_bn_fwd_train");
    bnFwdInfer = rt.function("rfim_bn_fwd_infer");
    bnBwd = rt.function("rfim_bn_bwd");
    sgd = rt.function("rfim_sgd");
    sgdMomentum = rt.function("rfim_sgd_momentum");
    adam = rt.function("rfim_adam");
    scaledHtilde = rt.function("rfim_scaled_htilde");
    mirrorUpperToLower = rt.function("rfim_mirror_upper_to_lower");
    symDamp = rt.function("rfim_sym_damp");
    addDiagonal = rt.function("rfim_add_diagonal");
    copyOkSlices = rt.function("rfim_copy_ok_slices");
    pointerTables = rt.function("rfim_pointer_tables");
    inverseStatus = rt.function("rfim_inverse_status");
    sgdMulti = rt.function("rfim_sgd_multi");
    adamMulti = rt.function("rfim_adam_multi");
    gatherBatch = rt.function("rfim_gather_batch");
    scaledHtildeAct = rt.function("rfim_scaled_htilde_act");
    scaledHtildeMulti = rt.function("rfim_scaled_htilde_multi");
    preconditionMulti = rt.function("rfim_precondition_multi");
    copyOkUpper = rt.function("rfim_copy_ok_upper");
    symDampWide = rt.function("rfim_sym_damp_wide");
  }

  /** Grid size for a grid-stride kernel over {@code n} work items. */
  int maxBlocks() {
    return maxBlocks;
  }

  int gridFor(long n) {
    long blocks = (n + BLOCK - 1) / BLOCK;
    return (int) Math.max(1, Math.min(blocks, maxBlocks));
  }

  /** Launches a grid-stride kernel over {@code n} items on the backend's stream. */
  void launchN(CUfunction f, long n, Object... args) {
    launchGrid(f, gridFor(n), BLOCK, args);
  }

  /** Launches with an explicit 1-D grid and block. */
  void launchGrid(CUfunction f, int grid, int block, Object... args) {
    if (rt.rec.mode != StepRecorder.Mode.EAGER) {
      Object[] sig = new Object[args.length + 3];
      sig[0] = f;
      sig[1] = grid;
      sig[2] = block;
      System.arraycopy(args, 0, sig, 3, args.length);
      if (!rt.rec.op(0, sig)) {
        return;
      }
    } else {
      rt.rec.op(0);
    }
    NativePointerObject[] ps = new NativePointerObject[args.length];
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      if (a == null) {
        ps[i] = Pointer.to(new CUdeviceptr());
      } else if (a instanceof CUdeviceptr) {
        ps[i] = Pointer.to((CUdeviceptr) a);
      } else if (a instanceof Integer) {
        ps[i] = Pointer.to(new int[] {(Integer) a});
      } else if (a instanceof Long) {
        ps[i] = Pointer.to(new long[] {(Long) a});
      } else if (a instanceof Float) {
        ps[i] = Pointer.to(new float[] {(Float) a});
      } else {
        throw new IllegalArgumentException("unsupported kernel argument type " + a.getClass().getName());
      }
    }
    Pointer params = Pointer.to(ps);
    jcuda.driver.CUstream s = rt.current();
    rt.rec.issue(() -> cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, s, params, null));
  }
}
