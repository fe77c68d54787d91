// tests/kernels/test_cuda_lanes.cpp — a GPU's lanes on their own SMs (set_cuda_lane_sms: CUDA
// green contexts) and at their own stream priorities: the SMs each lane gets, the refusals once
// a lane's stream or partition exists, and a GEMM on two partitioned lanes (queued directly and
// replayed from a CUDA graph captured on a partition) giving lane 0's bits on random data.
// Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/bf16.h"
#include "core/error.h"
#include "engine/runner/cuda_graph.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/ops.h"
#include "tests/support/device_copy.h"

namespace rotor {
namespace {

// Lanes 6 and 7 of GPU 0: no other test of this binary uses them, so their streams are new.
constexpr int kFirstLane = 6;

OwnedTensor random_bf16(Shape s, float scale, std::mt19937_64& g) {
  OwnedTensor t(cpu_allocator(), DType::BF16, s);
  std::normal_distribution<float> n(0.0f, scale);
  for (int64_t i = 0; i < t.tensor.numel(); ++i) t.tensor.data<uint16_t>()[i] = f32_to_bf16(n(g));
  return t;
}

TEST(CudaLanes, PartitionedLanesGiveLaneZeroBits) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  int total = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&total, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  const int ask[2] = {16, 0};
  const std::vector<int> got = set_cuda_lane_sms(0, kFirstLane, ask);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[0], 16);
  EXPECT_GT(got[1], 0);
  EXPECT_LE(got[0] + got[1], total);
  std::printf("lane %d: %d SMs, lane %d: %d SMs, of %d\n", kFirstLane, got[0], kFirstLane + 1, got[1], total);
  EXPECT_THROW(set_cuda_lane_sms(0, kFirstLane, ask), Error);  // partitioned already
  set_cuda_lane_priority(0, kFirstLane + 1, -5);                // before its stream: allowed
  auto whole = make_cuda_ops(0), small = make_cuda_ops(0, kFirstLane), rest = make_cuda_ops(0, kFirstLane + 1);
  EXPECT_THROW(set_cuda_lane_priority(0, kFirstLane, 0), Error);  // its stream exists now
  const int one[1] = {8};
  EXPECT_THROW(set_cuda_lane_sms(0, 0, one), Error);  // lane 0's stream exists

  std::mt19937_64 g{std::random_device{}()};
  const int M = 48, N = 768, K = 1024;
  const OwnedTensor x = random_bf16({M, K}, 1.0f, g), w = random_bf16({N, K}, 1.0f / std::sqrt(float(K)), g);
  std::vector<std::vector<uint16_t>> outs;
  for (Ops* ops : {whole.get(), small.get(), rest.get()}) {
    const OwnedTensor dx = test::to_device(*ops, x), dw = test::to_device(*ops, w);
    OwnedTensor dout(ops->allocator(), DType::BF16, {M, N});
    ops->gemm(dx, LinearWeight::dense(dw), dout);
    OwnedTensor h = test::to_host(*ops, dout);
    outs.emplace_back(h.tensor.data<uint16_t>(), h.tensor.data<uint16_t>() + M * N);
    if (ops == small.get()) {  // once more from a graph captured on the partition
      ops->fill_random(dout.tensor, 1, 0.0f, 1.0f);
      ops->synchronize();
      auto graph = CudaGraph::capture(*ops, [&] { ops->gemm(dx, LinearWeight::dense(dw), dout); });
      graph->replay();
      OwnedTensor r = test::to_host(*ops, dout);
      EXPECT_EQ(std::memcmp(r.tensor.data<uint16_t>(), outs.back().data(), sizeof(uint16_t) * M * N), 0)
          << "graph replay on the partition";
    }
  }
  EXPECT_EQ(outs[1], outs[0]) << "lane " << kFirstLane << " on " << got[0] << " SMs";
  EXPECT_EQ(outs[2], outs[0]) << "lane " << kFirstLane + 1 << " on " << got[1] << " SMs";
}

}  // namespace
}  // namespace rotor
