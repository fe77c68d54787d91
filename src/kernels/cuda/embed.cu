// kernels/cuda/embed.cu — embedding lookup / row gather (ids clamped to the table).
#include "kernels/cuda/embed.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

__global__ void embed_kernel(const int32_t* __restrict__ ids, const uint4* __restrict__ table, int64_t rows,
                             int64_t row_vecs, uint4* __restrict__ out) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t t = blockIdx.x;
  const int64_t id = ids[t];
  const uint4* src = table + (id < 0 ? 0 : (id >= rows ? rows - 1 : id)) * row_vecs;  // ids are checked upstream
  uint4* dst = out + t * row_vecs;
  for (int64_t i = threadIdx.x; i < row_vecs; i += blockDim.x) dst[i] = src[i];
}

}  // namespace

cudaError_t embed(const int32_t* ids, int64_t T, const void* table, int64_t rows, int64_t row_bytes, void* out,
                  cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (row_bytes % 16 != 0) return cudaErrorInvalidValue;
  const int64_t vecs = row_bytes / 16;
  const int threads = vecs >= 256 ? 256 : static_cast<int>((vecs + 31) / 32 * 32);
  return launch(embed_kernel, static_cast<unsigned>(T), threads, 0, stream, ids, static_cast<const uint4*>(table), rows,
                vecs, static_cast<uint4*>(out));
}

}  // namespace rotor::cuda
