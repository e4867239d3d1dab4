// rngd.cu - RNGD metric kernels (MATH.md section 8): scaled H~ copies for the weighted Gram update,
// augmentation with the constant 1, mirroring, symmetrise + damp, identity stacks, diagonal shifts and the
// inversion's device-side bookkeeping (batched pointer tables, the per-slice status with the A11 failure rule,
// the guarded copy of successfully inverted slices), so that an inverse refresh needs no host round trip.
#include "activations.cuh"

/**
 * Weighted-Gram workspace: s[q][k][j] = sqrt(nu[k][i0 + q]) * h~[k][j] for q < count neurons, samples k < b
 * and j < d = n + 1, with h~[k] = [h[k], 1]. h is b x n, nu is b x nuStride (row-major), s is
 * count x b x d. A strided-batched GEMM then forms S_q^T S_q = sum_k nu[k][i] h~_k h~_k^T for all neurons
 * of the chunk at once. With nu == null the scale is 1 (plain augmentation, used for the shared metric).
 */
extern "C" __global__ void rfim_scaled_htilde(const float* h, const float* nu, int b, int n, int nuStride, int i0,
                                              int count, float* s) {
  int d = n + 1;
  long long total = (long long)count * b * d;
  RFIM_GRID_STRIDE(e, total) {
    long long q = e / ((long long)b * d);
    long long r = e - q * b * d;
    long long k = r / d;
    long long j = r - k * d;
    float hv = j < n ? h[k * n + j] : 1.0f;
    float w = nu != 0 ? rfim_sqrt_weight(nu[k * nuStride + i0 + q]) : 1.0f;
    s[e] = w * hv;
  }
}

/**
 * For every d x d matrix of a stack of `count`: copies the strictly upper triangle (row-major view, r < c)
 * onto the lower one, g[r][c'] for r > c' = g[c'][r]. Completes a cublasSsyrk (column-major lower, which is
 * the row-major upper triangle) or a potri result.
 */
extern "C" __global__ void rfim_mirror_upper_to_lower(float* g, int count, int d) {
  long long dd = (long long)d * d;
  RFIM_GRID_STRIDE(e, count * dd) {
    long long q = e / dd;
    long long rc = e - q * dd;
    int r = (int)(rc / d);
    int c = (int)(rc - (long long)r * d);
    if (r > c) {
      g[e] = g[q * dd + (long long)c * d + r];
    }
  }
}

/**
 * One block per matrix (block-stride over the stack): a[q] = (g[q] + g[q]^T) / 2 +
 * (epsRel[q or 0] * trace(g[q]) + epsAbs) I, and rhs[q] = I when rhs != null. epsRel has `count` entries,
 * or one when nEpsRel == 1. When status != null, status[q] = 1 if the damping or an entry of a[q] is not
 * finite (the matrix then fails at the first pivot, as the CPU backend's check), else 0; rfim_inverse_status
 * completes it after the factorisation. blockDim.x must be a multiple of 32 and at most 1024.
 */
extern "C" __global__ void rfim_sym_damp(const float* g, int count, int d, const float* epsRel, int nEpsRel,
                                         float epsAbs, float* a, float* rhs, int* status) {
  __shared__ float warpSums[32];
  __shared__ float shift;
  long long dd = (long long)d * d;
  for (int q = blockIdx.x; q < count; q += gridDim.x) {  // block-uniform loop
    const float* gq = g + q * dd;
    float t = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
      t += gq[(long long)i * d + i];
    }
    float trace = rfim_block_sum(t, warpSums);
    if (threadIdx.x == 0) {
      shift = epsRel[nEpsRel == 1 ? 0 : q] * trace + epsAbs;
    }
    __syncthreads();
    float sh = shift;
    int bad = !isfinite(sh);
    float* aq = a + q * dd;
    float* rq = rhs != 0 ? rhs + q * dd : 0;
    for (long long e = threadIdx.x; e < dd; e += blockDim.x) {
      int r = (int)(e / d);
      int c = (int)(e - (long long)r * d);
      float v = 0.5f * (gq[e] + gq[(long long)c * d + r]);
      if (r == c) {
        v += sh;
      }
      bad |= !isfinite(v);
      aq[e] = v;
      if (rq != 0) {
        rq[e] = r == c ? 1.0f : 0.0f;
      }
    }
    // Also the barrier before warpSums/shift are reused by the next matrix of this block.
    bad = __syncthreads_or(bad);
    if (status != 0 && threadIdx.x == 0) {
      status[q] = bad;
    }
  }
}

/**
 * rfim_sym_damp for one d x d matrix over the whole grid (the single-matrix refresh, e.g. a 785 x 785 input-layer
 * metric, would otherwise run on one block): every block computes the trace itself (d loads, the same block
 * reduction as rfim_sym_damp, so the same shift), then its grid-stride share of a = (g + g^T) / 2 + shift I.
 * Each block writes flags[blockIdx.x] = 1 when the shift or one of its entries is not finite, else 0 (no
 * initialisation needed); rfim_inverse_status ORs them into the status. blockDim.x a multiple of 32, <= 1024.
 */
extern "C" __global__ void rfim_sym_damp_wide(const float* g, int d, const float* epsRel, float epsAbs, float* a,
                                              int* flags) {
  __shared__ float warpSums[32];
  __shared__ float shift;
  float t = 0.0f;
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    t += g[(long long)i * d + i];
  }
  float trace = rfim_block_sum(t, warpSums);
  if (threadIdx.x == 0) {
    shift = epsRel[0] * trace + epsAbs;
  }
  __syncthreads();
  float sh = shift;
  int bad = !isfinite(sh);
  RFIM_GRID_STRIDE(e, (long long)d * d) {
    int r = (int)(e / d);
    int c = (int)(e - (long long)r * d);
    float v = 0.5f * (g[e] + g[(long long)c * d + r]);
    if (r == c) {
      v += sh;
    }
    bad |= !isfinite(v);
    a[e] = v;
  }
  bad = __syncthreads_or(bad);
  if (threadIdx.x == 0) {
    flags[blockIdx.x] = bad;
  }
}

/**
 * The device pointer tables of a batched cuSOLVER/cuBLAS call over two stacks of `count` equal slices:
 * pa[q] = a + q * stride and pb[q] = b + q * stride (stride in floats). Written on the device, so building
 * them needs no upload (and no host synchronisation) and can be part of a captured graph.
 */
extern "C" __global__ void rfim_pointer_tables(float* a, float* b, long long stride, int count, float** pa,
                                               float** pb) {
  RFIM_GRID_STRIDE(q, count) {
    pa[q] = a + q * stride;
    pb[q] = b + q * stride;
  }
}

/**
 * The inversion failure rule of MATH.md A11 on the device, after the Cholesky factorisation of a stack of
 * `count` d x d slices (one block per slice, block-stride). On entry status[q] is rfim_sym_damp's check
 * (0, or 1 for a non-finite damped matrix) and info[q] the factorisation's LAPACK info; the factor's
 * diagonal is checked too, since a real cuSOLVER need not flag a NaN pivot. On exit status[q] is 0 when the
 * slice may be used (status 0, info 0 and every diagonal entry of the factor finite and > 0), else the
 * first reason: 1 (non-finite input), info[q] (failing pivot, or a negative argument error) or the 1-based
 * index of the first bad diagonal entry. For a failed slice, epsRel[q] (when epsRel != null) doubles, or
 * becomes 1e-8 when it is not > 0, and failures[0] (when failures != null) grows by 1 (exact up to 2^24); with
 * perCounter > 0, failures[q / perCounter] instead (one counter per layer of a stack of same-shape layers).
 * With nFlags > 0 (count 1, after rfim_sym_damp_wide) the entry status is the OR of flags[0, nFlags).
 */
extern "C" __global__ void rfim_inverse_status(const float* factor, const int* info, int count, int d, int* status,
                                               float* epsRel, float* failures, int perCounter, const int* flags,
                                               int nFlags) {
  __shared__ int firstBad;
  long long dd = (long long)d * d;
  for (int q = blockIdx.x; q < count; q += gridDim.x) {  // block-uniform loop
    if (threadIdx.x == 0) {
      firstBad = 0x7fffffff;
    }
    __syncthreads();
    const float* fq = factor + q * dd;
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
      float v = fq[(long long)j * d + j];
      if (!(isfinite(v) && v > 0.0f)) {
        atomicMin(&firstBad, j + 1);
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int s;
      if (nFlags > 0) {  // a single matrix damped by rfim_sym_damp_wide: its blocks' flags
        s = 0;
        for (int b = 0; b < nFlags; ++b) {
          s |= flags[b];
        }
      } else {
        s = status[q];
      }
      if (s == 0) {
        s = info[q];
      }
      if (s == 0 && firstBad != 0x7fffffff) {
        s = firstBad;
      }
      status[q] = s;
      if (s != 0) {
        if (epsRel != 0) {
          float e = epsRel[q];
          epsRel[q] = e > 0.0f ? 2.0f * e : 1e-8f;
        }
        if (failures != 0) {
          atomicAdd(failures + (perCounter > 0 ? q / perCounter : 0), 1.0f);
        }
      }
    }
    // firstBad is written again only by thread 0, after its read above: no barrier needed here.
  }
}

/** g[q][i][i] += value for every matrix q < count of size d x d. */
extern "C" __global__ void rfim_add_diagonal(float* g, int count, int d, float value) {
  RFIM_GRID_STRIDE(e, (long long)count * d) {
    long long q = e / d;
    long long i = e - q * d;
    g[q * d * d + i * d + i] += value;
  }
}

/**
 * ginv[q] = (w[q] + w[q]^T) / 2 for the slices whose status[q] == 0 (rfim_inverse_status; exactly symmetric
 * output); failed slices stay untouched.
 */
extern "C" __global__ void rfim_copy_ok_slices(const float* w, const int* status, int count, int d, float* ginv) {
  long long dd = (long long)d * d;
  RFIM_GRID_STRIDE(e, count * dd) {
    long long q = e / dd;
    if (status[q] == 0) {
      long long rc = e - q * dd;
      int r = (int)(rc / d);
      int c = (int)(rc - (long long)r * d);
      ginv[e] = 0.5f * (w[e] + w[q * dd + (long long)c * d + r]);
    }
  }
}

/**
 * rfim_scaled_htilde with the RNGD coefficients computed on the fly from the pre-activations a (b x aStride):
 * s[q][k][j] = rfim_sqrt_weight(nu_f(a[k][i0 + q])) * h~[k][j]. Saves the separate rfim_nu_coefficients launch and
 * its B x m round trip; the float arithmetic is the same as the two-kernel path.
 */
extern "C" __global__ void rfim_scaled_htilde_act(const float* h, const float* a, int kind, float iota, float alpha,
                                                  float omega, int b, int n, int aStride, int i0, int count,
                                                  float* s) {
  int d = n + 1;
  long long total = (long long)count * b * d;
  RFIM_GRID_STRIDE(e, total) {
    long long q = e / ((long long)b * d);
    long long r = e - q * b * d;
    long long k = r / d;
    long long j = r - k * d;
    float hv = j < n ? h[k * n + j] : 1.0f;
    float nu = rfim_act_nu(kind, iota, alpha, omega, a[k * aStride + i0 + q]);
    s[e] = rfim_sqrt_weight(nu) * hv;
  }
}

/**
 * One layer of rfim_scaled_htilde_multi (64 bytes; the backend's CudaRngd writes these tables). mode 0: shared
 * metric (scale 1), 1: coefficients nu (b x m) given in coeff, 2: coeff holds pre-activations (b x m) and the scale
 * is sqrt(nu_f(a)) of activation `act` (iota, alpha as rfim_act_nu, omega the variance factor).
 */
struct RfimGramDesc {
  const float* h;
  const float* coeff;
  long long wsOffset;
  int b;
  int n;
  int m;
  int mode;
  int act;
  float iota;
  float alpha;
  float omega;
  long long reserved;
};

/**
 * The weighted-Gram workspaces of several layers in one launch: layer l (desc[l], wsOffset ascending) writes
 * its m (1 for a shared metric) scaled copies of H~ at ws + wsOffset exactly as rfim_scaled_htilde (mode 0, 1)
 * or rfim_scaled_htilde_act (mode 2) would for neurons [0, m). total = the last layer's wsOffset + its size.
 */
extern "C" __global__ void rfim_scaled_htilde_multi(const RfimGramDesc* desc, int count, long long total,
                                                    float* ws) {
  RFIM_GRID_STRIDE(e, total) {
    int l = 0;
    while (l + 1 < count && desc[l + 1].wsOffset <= e) {
      l++;
    }
    const RfimGramDesc* g = desc + l;
    int n = g->n;
    int d = n + 1;
    long long local = e - g->wsOffset;
    long long q = local / ((long long)g->b * d);
    long long r = local - q * g->b * d;
    long long k = r / d;
    long long j = r - k * d;
    float hv = j < n ? g->h[k * n + j] : 1.0f;
    float w = 1.0f;
    if (g->mode == 1) {
      w = rfim_sqrt_weight(g->coeff[k * g->m + q]);
    } else if (g->mode == 2) {
      w = rfim_sqrt_weight(rfim_act_nu(g->act, g->iota, g->alpha, g->omega, g->coeff[k * g->m + q]));
    }
    ws[e] = w * hv;
  }
}

/**
 * One layer of rfim_precondition_multi (64 bytes): out[:, i] = alpha ginv_i grad[:, i] + beta out[:, i] for the
 * d x m gradient, with ginv_i = ginv + i * ginvStride (ginvStride 0: one shared d x d inverse for every column).
 * firstColumn: the layer's first column in the launch's numbering (ascending).
 */
struct RfimPrecDesc {
  const float* ginv;
  const float* grad;
  float* out;
  long long ginvStride;
  int d;
  int m;
  int firstColumn;
  int reserved0;
  long long reserved1;
  long long reserved2;
};

/** Largest d of rfim_precondition_multi (its gradient column lives in shared memory). */
#define RFIM_PREC_MAX_D 256

/**
 * Per-neuron (and small shared) preconditioning of several layers in one launch, as the batched
 * matrix-vector product it is: one block per gradient column (block-stride over `columns`), which it reads
 * into shared memory before writing, so out may be grad itself. Sums in index order, like the GEMM it replaces.
 * beta == 0 ignores out's prior contents. d <= RFIM_PREC_MAX_D.
 */
extern "C" __global__ void rfim_precondition_multi(const RfimPrecDesc* desc, int count, int columns, float alpha,
                                                   float beta) {
  __shared__ float col[RFIM_PREC_MAX_D];
  for (int c = blockIdx.x; c < columns; c += gridDim.x) {  // block-uniform loop
    int l = 0;
    while (l + 1 < count && desc[l + 1].firstColumn <= c) {
      l++;
    }
    const RfimPrecDesc* p = desc + l;
    int i = c - p->firstColumn;
    int d = p->d;
    int m = p->m;
    for (int r = threadIdx.x; r < d; r += blockDim.x) {
      col[r] = p->grad[(long long)r * m + i];
    }
    __syncthreads();
    const float* gi = p->ginv + p->ginvStride * i;
    for (int r = threadIdx.x; r < d; r += blockDim.x) {
      const float* row = gi + (long long)r * d;
      float s = 0.0f;
      for (int k = 0; k < d; ++k) {
        s += row[k] * col[k];
      }
      float o = alpha * s;
      if (beta != 0.0f) {
        o += beta * p->out[(long long)r * m + i];
      }
      p->out[(long long)r * m + i] = o;
    }
    __syncthreads();  // col is reused by this block's next column
  }
}

/**
 * The single-matrix refresh's last step: ginv[r][c] = w[min(r, c)][max(r, c)] when status[0] == 0, where w holds
 * potri's result in its row-major upper triangle (the mirror and the guarded copy in one launch, the same values as
 * rfim_mirror_upper_to_lower then rfim_copy_ok_slices); a failed matrix leaves ginv untouched.
 */
extern "C" __global__ void rfim_copy_ok_upper(const float* w, const int* status, int d, float* ginv) {
  if (status[0] != 0) {
    return;
  }
  long long dd = (long long)d * d;
  RFIM_GRID_STRIDE(e, dd) {
    int r = (int)(e / d);
    int c = (int)(e - (long long)r * d);
    ginv[e] = r <= c ? w[e] : w[(long long)c * d + r];
  }
}
