// kernels/cuda/gemm_w8a8.cu — the W8A8 dense GEMM launcher: mma.sync tiles of 16, 32 or 64 rows
// with K split (each output tile's splits one cluster) up to kW8A8SmallRows rows, 128-row
// tiles above (wgmma with blocks of wgmma_cols W rows, or mma.sync 128 x 128 without split
// when wgmma_cols is 0).
#include "kernels/cuda/gemm_w8a8.cuh"

#include <algorithm>

#include "kernels/cuda/mma_gemm.cuh"
#include "kernels/cuda/wgmma_gemm_i8.cuh"

namespace rotor::cuda {
namespace {

constexpr int kBN = 64;    // W rows per small-M block
constexpr int kBK = 128;   // bytes of K per pipeline stage

// Splits of K: doubled while the grid is under two waves and each split keeps >= min_bytes
// of K, up to the portable cluster size (the splits of a tile are one cluster).
int k_splits(int N, int K, int num_sms, int min_bytes) {
  const int n_blocks = (N + kBN - 1) / kBN;
  int ks = 1;
  while (ks < kMaxClusterSplits && n_blocks * ks < 2 * num_sms && K / (ks * 2) >= min_bytes) ks *= 2;
  return ks;
}

}  // namespace

cudaError_t gemm_w8a8(const W8A8Gemm& g, int wgmma_cols, int num_sms, bool early, cudaStream_t stream) {
  if (g.M == 0 || g.N == 0) return cudaSuccess;
  if (g.K % 16 != 0 || g.K <= 0) return cudaErrorInvalidValue;
  Gemm8Args a{};
  a.A = g.x;
  a.lda = g.K;
  a.W = g.w;
  a.M = g.M;
  a.N = g.N;
  a.K = g.K;
  a.out = g.out;
  if (g.M > kW8A8SmallRows) {
    a.k_chunk = g.K;
    if (wgmma_cols != 0) return wgmma_i8_dense(a, wgmma_cols, stream);
    a.n_fastest = true;
    return launch_mma_gemm<int8_t, 128, 128, 2, 4, 3, GemmMode::Dense>(
        a, dim3((g.N + 127) / 128, (g.M + 127) / 128, 1), stream);
  }
  const int ks = k_splits(g.N, g.K, num_sms, kMinSplitBytes);
  a.k_chunk = ((g.K + ks - 1) / ks + kBK - 1) / kBK * kBK;
  a.early = early;
  const unsigned splits = static_cast<unsigned>((g.K + a.k_chunk - 1) / a.k_chunk);
  const unsigned n_blocks = static_cast<unsigned>((g.N + kBN - 1) / kBN);
  if (g.M <= 16)
    return launch_mma_gemm<int8_t, 16, kBN, 1, 4, 4, GemmMode::Dense>(a, dim3(1, n_blocks, splits), stream);
  if (g.M <= 32)
    return launch_mma_gemm<int8_t, 32, kBN, 1, 4, 4, GemmMode::Dense>(a, dim3(1, n_blocks, splits), stream);
  return launch_mma_gemm<int8_t, 64, kBN, 1, 4, 4, GemmMode::Dense>(
      a, dim3(static_cast<unsigned>((g.M + 63) / 64), n_blocks, splits), stream);
}

}  // namespace rotor::cuda
