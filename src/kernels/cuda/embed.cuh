// kernels/cuda/embed.cuh — row gather out[t] = table[ids[t]] (embedding lookup), 16-byte copies;
// and a vocabulary-parallel embedding's share (ids outside the table's slice give zero rows).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// ids [T] i32, table [rows, row_bytes], out [T, row_bytes]; row_bytes a multiple of 16.
cudaError_t embed(const int32_t* ids, int64_t T, const void* table, int64_t rows, int64_t row_bytes, void* out,
                  cudaStream_t stream);
// out[t] = table[ids[t] - first] when 0 <= ids[t] - first < rows, else zeros.
cudaError_t embed_shard(const int32_t* ids, int64_t T, const void* table, int64_t rows, int64_t first,
                        int64_t row_bytes, void* out, cudaStream_t stream);

}  // namespace rotor::cuda
