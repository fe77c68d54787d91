// kernels/cuda/embed.cu — embedding lookup / row gather (ids clamped to the table), and the
// vocabulary-parallel share (ids outside the table's slice give zero rows).
#include "kernels/cuda/embed.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

// shard: rows outside [first, first + rows) are zeros; else ids are clamped (checked upstream).
__global__ void embed_kernel(const int32_t* __restrict__ ids, const uint4* __restrict__ table, int64_t rows,
                             int64_t row_vecs, int64_t first, bool shard, uint4* __restrict__ out) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t t = blockIdx.x;
  const int64_t id = ids[t] - first;
  uint4* dst = out + t * row_vecs;
  if (shard && (id < 0 || id >= rows)) {
    for (int64_t i = threadIdx.x; i < row_vecs; i += blockDim.x) dst[i] = make_uint4(0, 0, 0, 0);
    return;
  }
  const uint4* src = table + (id < 0 ? 0 : (id >= rows ? rows - 1 : id)) * row_vecs;
  for (int64_t i = threadIdx.x; i < row_vecs; i += blockDim.x) dst[i] = src[i];
}

cudaError_t launch_embed(const int32_t* ids, int64_t T, const void* table, int64_t rows, int64_t first, bool shard,
                         int64_t row_bytes, void* out, cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (row_bytes % 16 != 0) return cudaErrorInvalidValue;
  const int64_t vecs = row_bytes / 16;
  const int threads = vecs >= 256 ? 256 : static_cast<int>((vecs + 31) / 32 * 32);
  return launch(embed_kernel, static_cast<unsigned>(T), threads, 0, stream, ids, static_cast<const uint4*>(table), rows,
                vecs, first, shard, static_cast<uint4*>(out));
}

}  // namespace

cudaError_t embed(const int32_t* ids, int64_t T, const void* table, int64_t rows, int64_t row_bytes, void* out,
                  cudaStream_t stream) {
  return launch_embed(ids, T, table, rows, 0, false, row_bytes, out, stream);
}

cudaError_t embed_shard(const int32_t* ids, int64_t T, const void* table, int64_t rows, int64_t first,
                        int64_t row_bytes, void* out, cudaStream_t stream) {
  return launch_embed(ids, T, table, rows, first, true, row_bytes, out, stream);
}

}  // namespace rotor::cuda
