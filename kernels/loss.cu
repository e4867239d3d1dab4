// loss.cu - row-wise softmax cross-entropy with fused gradient and statistics; softmax RFIM coefficients.
#include "activations.cuh"

/**
 * One thread per row (grid-stride): probs[k] = softmax(logits[k]); if dlogits != null,
 * dlogits[k][j] = scale * (probs[k][j] - [j == y_k]); stats[0] += sum_k -log P[k][y_k],
 * stats[1] += number of rows whose argmax differs from the label. Per-thread sums are reduced over the
 * warp with full-warp shuffles, then one atomicAdd per warp. blockDim.x must be a multiple of 32.
 */
extern "C" __global__ void rfim_softmax_xent(const float* logits, const float* labels, int rows, int classes,
                                             float* probs, float* dlogits, float scale, float* stats) {
  float loss = 0.0f;
  float errors = 0.0f;
  RFIM_GRID_STRIDE(k, rows) {
    const float* z = logits + k * classes;
    float* p = probs + k * classes;
    float zmax;
    int am;
    float lse = rfim_softmax_row(z, p, classes, &zmax, &am);
    int y = (int)labels[k];
    // -log P[y] = log(sum exp(z - max)) - (z[y] - max), stable even when P[y] underflows.
    loss += lse - (z[y] - zmax);
    if (am != y) {
      errors += 1.0f;
    }
    if (dlogits != 0) {
      float* d = dlogits + k * classes;
      for (int j = 0; j < classes; j++) {
        d[j] = scale * (p[j] - (j == y ? 1.0f : 0.0f));
      }
    }
  }
  loss = rfim_warp_sum(loss);
  errors = rfim_warp_sum(errors);
  if ((threadIdx.x & 31) == 0 && stats != 0) {
    atomicAdd(stats, loss);
    atomicAdd(stats + 1, errors);
  }
}

/**
 * Per-neuron RFIM coefficients of a softmax layer (MATH.md 4.3), one thread per row (grid-stride):
 * nu[k][j] = eta_j (1 - eta_j) with eta = softmax(a[k]). For the row's argmax, 1 - eta is summed from the
 * other probabilities instead of subtracted from 1, so a dominant class keeps its (tiny) coefficient to
 * float precision. nu may be a (in place).
 */
extern "C" __global__ void rfim_softmax_nu(const float* a, int rows, int cols, float* nu) {
  RFIM_GRID_STRIDE(k, rows) {
    float* p = nu + k * cols;
    float zmax;
    int am;
    rfim_softmax_row(a + k * cols, p, cols, &zmax, &am);
    float others = 0.0f;
    for (int j = 0; j < cols; j++) {
      if (j != am) {
        others += p[j];
      }
    }
    for (int j = 0; j < cols; j++) {
      p[j] = p[j] * (j == am ? others : 1.0f - p[j]);
    }
  }
}
