// kernels/cuda/gemm.cu — dense GEMM launchers: our mma kernel for few rows (K split over a
// thread-block cluster that sums the splits in shared memory), cuBLAS (f32 compute) for many.
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/mma_gemm.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

// W rows per block: 64, or (narrow) 16 where 64-row tiles could not fill the SMs even with K
// split the most ways (a router's 128 experts: 16 blocks of 64 rows, 64 blocks of 16). A
// function of N and the device only, as the splits are.
int block_rows(int N, int num_sms, bool narrow) {
  return narrow && (N + 63) / 64 * kMaxClusterSplits < num_sms ? 16 : 64;
}

// Splits of K: doubled while the grid is under two waves and each split keeps >= 256 of K,
// up to the portable cluster size (the splits of a tile are one cluster). A function of N,
// K and the device only, so a row's sum is the same at any M.
int k_splits(int N, int K, int BN, int num_sms) {
  const int n_blocks = (N + BN - 1) / BN;
  int ks = 1;
  while (ks < kMaxClusterSplits && n_blocks * ks < 2 * num_sms && K / (ks * 2) >= 256) ks *= 2;
  return ks;
}

int k_chunk(int K, int ks) { return ((K + ks - 1) / ks + 63) / 64 * 64; }

__global__ void add_bias_kernel(void* __restrict__ out, int64_t ldo, bool out_f32, const void* __restrict__ bias,
                                bool bias_f32, int M, int N) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<int64_t>(M) * N) return;
  const int m = static_cast<int>(idx / N), n = static_cast<int>(idx % N);
  const float b = bias_f32 ? static_cast<const float*>(bias)[n] : __bfloat162float(static_cast<const bf16*>(bias)[n]);
  if (out_f32) {
    static_cast<float*>(out)[m * ldo + n] += b;
  } else {
    bf16* o = static_cast<bf16*>(out) + m * ldo + n;
    *o = __float2bfloat16_rn(__bfloat162float(*o) + b);
  }
}

unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

}  // namespace

cudaError_t small_gemm(const DenseGemm& g, int num_sms, bool early, bool narrow, cudaStream_t stream) {
  if (g.M == 0 || g.N == 0) return cudaSuccess;
  if (g.M > kSmallGemmRows || g.K % 8 != 0) return cudaErrorInvalidValue;
  const int BN = block_rows(g.N, num_sms, narrow);
  const int ks = k_splits(g.N, g.K, BN, num_sms), chunk = k_chunk(g.K, ks);
  const int splits = (g.K + chunk - 1) / chunk;
  GemmArgs a{};
  a.A = static_cast<const bf16*>(g.x);
  a.lda = g.ldx;
  a.W = static_cast<const bf16*>(g.w);
  a.M = g.M;
  a.N = g.N;
  a.K = g.K;
  a.k_chunk = chunk;
  a.early = early;
  a.out = g.out;
  a.ldo = g.ldo;
  a.out_f32 = g.out_f32;
  a.bias = g.bias;
  a.bias_f32 = g.bias_f32;
  const unsigned n_blocks = static_cast<unsigned>((g.N + BN - 1) / BN);
  const dim3 grid(n_blocks, splits, static_cast<unsigned>((g.M + 63) / 64));  // z: 1 for the 16-row tiles (M <= 16)
  if (BN == 16) {
    if (g.M <= 16) return launch_mma_gemm<bf16, 16, 16, 1, 1, 4, GemmMode::Dense>(a, grid, stream);
    return launch_mma_gemm<bf16, 64, 16, 4, 1, 4, GemmMode::Dense>(a, grid, stream);
  }
  if (g.M <= 16) return launch_mma_gemm<bf16, 16, 64, 1, 4, 4, GemmMode::Dense>(a, grid, stream);
  return launch_mma_gemm<bf16, 64, 64, 1, 4, 4, GemmMode::Dense>(a, grid, stream);
}

cudaError_t cublas_gemm(const DenseGemm& g, cublasHandle_t handle, cudaStream_t stream) {
  if (g.M == 0 || g.N == 0) return cudaSuccess;
  const float alpha = 1.0f, beta = 0.0f;
  // Column-major view: out^T [N, M] = W [N, K] . x^T [K, M].
  const cublasStatus_t st =
      cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, g.N, g.M, g.K, &alpha, g.w, CUDA_R_16BF, g.K, g.x, CUDA_R_16BF,
                   static_cast<int>(g.ldx), &beta, g.out, g.out_f32 ? CUDA_R_32F : CUDA_R_16BF,
                   static_cast<int>(g.ldo), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (st != CUBLAS_STATUS_SUCCESS) return cudaErrorUnknown;
  if (!g.bias) return cudaSuccess;
  const int64_t n = static_cast<int64_t>(g.M) * g.N;
  return launch(add_bias_kernel, blocks_for(n, 256), 256, 0, stream, g.out, g.ldo, g.out_f32, g.bias, g.bias_f32, g.M,
                g.N);
}

}  // namespace rotor::cuda
