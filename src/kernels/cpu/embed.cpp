// kernels/cpu/embed.cpp — row gather: out[t] = table[ids[t]]; and a vocabulary-parallel
// embedding's share (rows outside the table's slice are zeros).
#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void embed(const Tensor& ids, const Tensor& table, const Tensor& out) {
  const int64_t T = ids.size(0), V = table.size(0), H = table.size(1);
  const int32_t* id = ids.data<int32_t>();
  for (int64_t t = 0; t < T; ++t) ROTOR_CHECK(id[t] >= 0 && id[t] < V, "embed: token id {} outside [0, {})", id[t], V);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const void* src = table.row_ptr(id[t]);
    void* dst = out.row_ptr(t);
    for (int64_t h = 0; h < H; ++h) store_f32(dst, out.dtype(), h, load_f32(src, table.dtype(), h));
  }
}

void embed_shard(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) {
  const int64_t T = ids.size(0), V = table.size(0), H = table.size(1);
  const int32_t* id = ids.data<int32_t>();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const int64_t row = id[t] - first;
    const bool mine = row >= 0 && row < V;
    void* dst = out.row_ptr(t);
    for (int64_t h = 0; h < H; ++h) store_f32(dst, out.dtype(), h, mine ? load_f32(table.row_ptr(row), table.dtype(), h) : 0.0f);
  }
}

}  // namespace rotor::cpu
