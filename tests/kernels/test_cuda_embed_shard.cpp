// tests/kernels/test_cuda_embed_shard.cpp — the vocabulary-parallel embedding share on the GPU
// against the CPU op and the definition, on random shapes, offsets and ids (inside and outside
// the rank's rows). Skipped without a GPU.
#include <gtest/gtest.h>

#include <random>

#include "core/bf16.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/ops.h"
#include "tests/support/device_copy.h"

namespace rotor {
namespace {

TEST(CudaEmbedShard, RowsOfTheSliceAndZerosElsewhere) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  auto gpu = make_cuda_ops(0);
  auto cpu = make_cpu_ops();
  std::mt19937_64 g{std::random_device{}()};
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); };
  for (int trial = 0; trial < 6; ++trial) {
    const int V = uniform(1, 300), H = 8 * uniform(1, 300), T = uniform(1, 40), first = uniform(0, 600);
    SCOPED_TRACE(::testing::Message() << "V " << V << " H " << H << " T " << T << " first " << first);
    OwnedTensor table(cpu_allocator(), DType::BF16, {V, H}), ids(cpu_allocator(), DType::I32, {T});
    for (int64_t i = 0; i < table.tensor.numel(); ++i)
      table.tensor.data<uint16_t>()[i] = f32_to_bf16(std::normal_distribution<float>(0.0f, 1.0f)(g));
    for (int t = 0; t < T; ++t) ids.tensor.data<int32_t>()[t] = uniform(0, first + V + 300);
    const OwnedTensor dtable = test::to_device(*gpu, table), dids = test::to_device(*gpu, ids);
    OwnedTensor dout(gpu->allocator(), DType::BF16, {T, H}), cout(cpu_allocator(), DType::F32, {T, H});
    gpu->embed_shard(dids, dtable, first, dout);
    cpu->embed_shard(ids, table, first, cout);
    const OwnedTensor out = test::to_host(*gpu, dout);
    for (int t = 0; t < T; ++t) {
      const int32_t id = ids.tensor.data<int32_t>()[t];
      const bool mine = id >= first && id < first + V;
      for (int h = 0; h < H; ++h) {
        const float want = mine ? bf16_to_f32(table.tensor.data<uint16_t>()[int64_t{id - first} * H + h]) : 0.0f;
        ASSERT_EQ(bf16_to_f32(out.tensor.data<uint16_t>()[int64_t{t} * H + h]), want) << t << ", " << h;
        ASSERT_EQ(cout.tensor.data<float>()[int64_t{t} * H + h], want) << t << ", " << h;
      }
    }
  }
}

}  // namespace
}  // namespace rotor
