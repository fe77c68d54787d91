// kernels/cuda/rms_norm.cu — one block per row; 16-byte loads; the residual sum is rounded
// to bf16 before the statistics, as the CPU op does with its (f32) residual dtype. The
// quantising form (kQuant) follows the CPU op's arithmetic step by step (rms_norm.cuh). The
// row's arithmetic is rms_norm_row.cuh's, which the GEMV's folded norm shares (gemv.cu).
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rms_norm.cuh"
#include "kernels/cuda/rms_norm_row.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = kNormThreads;
constexpr int kMaxVecs = kNormMaxH / (8 * kThreads);

// kQuant: out is int8 (qout, static quantisation with scale / offset); else bf16 (out). A row's
// vectors stay in registers between the statistics and the output (rms_norm_row.cuh's steps).
template <bool kQuant>
__global__ void __launch_bounds__(kThreads) rms_norm_kernel(const bf16* __restrict__ x, int64_t x_stride,
                                                            const bf16* __restrict__ w, const bf16* __restrict__ bias,
                                                            float eps, bf16* __restrict__ out, int8_t* __restrict__ qout,
                                                            double scale, double offset, int64_t out_stride,
                                                            bf16* __restrict__ residual, int64_t res_stride, int H) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t t = blockIdx.x;
  const bf16* xr = x + t * x_stride;
  bf16* rr = residual ? residual + t * res_stride : nullptr;
  const int vecs = H / 8;
  float v[kMaxVecs][8];
  std::conditional_t<kQuant, double, float> ss = 0;
#pragma unroll
  for (int j = 0; j < kMaxVecs; ++j) {
    const int i = threadIdx.x + j * kThreads;
    if (i >= vecs) break;
    norm_load8(xr + i * 8, rr ? rr + i * 8 : nullptr, rr ? rr + i * 8 : nullptr, v[j]);
    norm_square_add(v[j], ss);
  }
  const float inv = norm_inv_rms(ss, H, eps);
#pragma unroll
  for (int j = 0; j < kMaxVecs; ++j) {
    const int i = threadIdx.x + j * kThreads;
    if (i >= vecs) break;
    float y[8];
    norm_apply8<kQuant>(v[j], inv, w + i * 8, bias ? bias + i * 8 : nullptr, y);
    if constexpr (kQuant)
      *reinterpret_cast<uint2*>(qout + t * out_stride + i * 8) = quant8_static(y, scale, offset);
    else
      store8(out + t * out_stride + i * 8, y);
  }
}

}  // namespace

cudaError_t rms_norm(const void* x, int64_t x_stride, const void* w, const void* bias, float eps, void* out,
                     int64_t out_stride, void* residual, int64_t res_stride, int64_t T, int64_t H,
                     cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (H % 8 != 0 || H > 8 * kThreads * kMaxVecs) return cudaErrorInvalidValue;
  return launch(rms_norm_kernel<false>, static_cast<unsigned>(T), kThreads, 0, stream, static_cast<const bf16*>(x),
                x_stride, static_cast<const bf16*>(w), static_cast<const bf16*>(bias), eps, static_cast<bf16*>(out),
                static_cast<int8_t*>(nullptr), 0.0, 0.0, out_stride, static_cast<bf16*>(residual), res_stride,
                static_cast<int>(H));
}

cudaError_t rms_norm_quant(const void* x, int64_t x_stride, const void* w, const void* bias, float eps, float scale,
                           float offset, int8_t* out, int64_t out_stride, void* residual, int64_t res_stride, int64_t T,
                           int64_t H, cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (H % 8 != 0 || H > 8 * kThreads * kMaxVecs || out_stride % 8 != 0) return cudaErrorInvalidValue;
  return launch(rms_norm_kernel<true>, static_cast<unsigned>(T), kThreads, 0, stream, static_cast<const bf16*>(x),
                x_stride, static_cast<const bf16*>(w), static_cast<const bf16*>(bias), eps, static_cast<bf16*>(nullptr),
                out, static_cast<double>(scale), static_cast<double>(offset), out_stride,
                static_cast<bf16*>(residual), res_stride, static_cast<int>(H));
}

}  // namespace rotor::cuda
