// loss.cu - row-wise softmax cross-entropy with fused gradient and statistics.
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
