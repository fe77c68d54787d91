// tests/comm/test_thread_comm.cpp — the CPU ranks' communicator (threads of one process):
// all-reduce, all-gather, broadcast and the fused all-reduce + residual + RMSNorm for 2, 3,
// 4 and 8 ranks on random data, against host references computed here (sums in rank order:
// exact); the fused form bit for bit against all_reduce_sum + the CPU norm op; mismatched
// calls, an aborted group and a rank that never comes fail with a clear error, not a hang.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <thread>

#include "comm/thread_comm.h"
#include "core/bf16.h"
#include "core/buffer.h"
#include "kernels/cpu/cpu_kernels.h"

namespace rotor {
namespace {

using Clock = std::chrono::steady_clock;

// Runs fn(rank) on one thread per rank; returns each rank's error message ("" = none).
std::vector<std::string> run_ranks(int n, const std::function<void(int)>& fn) {
  std::vector<std::string> errors(n);
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        fn(r);
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (std::thread& t : threads) t.join();
  return errors;
}

void expect_no_errors(const std::vector<std::string>& errors) {
  for (size_t r = 0; r < errors.size(); ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
}

std::mt19937_64& rng() {
  static thread_local std::mt19937_64 g{std::random_device{}()};
  return g;
}

OwnedTensor random_tensor(DType dtype, Shape s, bool integers = false) {
  OwnedTensor t(cpu_allocator(), dtype, s);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> small(-8, 8);
  for (int64_t i = 0; i < t.tensor.numel(); ++i)
    cpu::store_f32(t.tensor.data(), dtype, i, integers ? static_cast<float>(small(rng())) : normal(rng()));
  return t;
}

OwnedTensor copy_of(const Tensor& t) {
  OwnedTensor c(cpu_allocator(), t.dtype(), t.shape());
  std::memcpy(c.tensor.data(), t.data(), t.nbytes());
  return c;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

// The sum over ranks in rank order, in f32, rounded once to the dtype.
OwnedTensor rank_order_sum(const std::vector<OwnedTensor>& in) {
  OwnedTensor s = copy_of(in[0].tensor);
  const DType d = s.tensor.dtype();
  for (int64_t i = 0; i < s.tensor.numel(); ++i) {
    float acc = cpu::load_f32(in[0].tensor.data(), d, i);
    for (size_t r = 1; r < in.size(); ++r) acc += cpu::load_f32(in[r].tensor.data(), d, i);
    cpu::store_f32(s.tensor.data(), d, i, acc);
  }
  return s;
}

class ThreadCommTest : public ::testing::TestWithParam<int> {};

TEST_P(ThreadCommTest, AllReduceEqualsTheRankOrderSum) {
  const int n = GetParam();
  auto comms = make_thread_comms(n);
  for (DType dtype : {DType::F32, DType::BF16}) {
    for (int64_t numel : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{4097}, int64_t{65536}}) {
      for (bool integers : {true, false}) {
        std::vector<OwnedTensor> data, orig;
        for (int r = 0; r < n; ++r) {
          data.push_back(random_tensor(dtype, {numel}, integers));
          orig.push_back(copy_of(data[r].tensor));
        }
        const OwnedTensor want = rank_order_sum(orig);
        expect_no_errors(run_ranks(n, [&](int r) { comms[r]->all_reduce_sum(data[r].tensor); }));
        for (int r = 0; r < n; ++r)
          EXPECT_TRUE(same_bytes(data[r].tensor, want.tensor))
              << "rank " << r << " of " << n << ", " << dtype_name(dtype) << "[" << numel << "]";
      }
    }
  }
}

TEST_P(ThreadCommTest, IntegerSumsAreExact) {
  const int n = GetParam();
  auto comms = make_thread_comms(n);
  std::vector<OwnedTensor> data;
  for (int r = 0; r < n; ++r) data.push_back(random_tensor(DType::F32, {513}, true));
  std::vector<double> want(513, 0.0);
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < 513; ++i) want[i] += data[r].tensor.data<float>()[i];
  expect_no_errors(run_ranks(n, [&](int r) { comms[r]->all_reduce_sum(data[r].tensor); }));
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < 513; ++i) ASSERT_EQ(data[r].tensor.data<float>()[i], want[i]) << "rank " << r << " i " << i;
}

TEST_P(ThreadCommTest, AllGatherConcatenatesByRank) {
  const int n = GetParam();
  auto comms = make_thread_comms(n);
  std::vector<OwnedTensor> in, out;
  for (int r = 0; r < n; ++r) {
    in.push_back(random_tensor(DType::F32, {3, 5}));
    out.emplace_back(cpu_allocator(), DType::F32, Shape{n * 3, 5});
  }
  expect_no_errors(run_ranks(n, [&](int r) { comms[r]->all_gather(in[r].tensor, out[r].tensor); }));
  for (int r = 0; r < n; ++r)
    for (int q = 0; q < n; ++q)
      EXPECT_EQ(std::memcmp(out[r].tensor.row_ptr(q * 3), in[q].tensor.data(), in[q].tensor.nbytes()), 0)
          << "rank " << r << ", part " << q;
}

TEST_P(ThreadCommTest, BroadcastGivesEveryRankTheRootsBytes) {
  const int n = GetParam();
  auto comms = make_thread_comms(n);
  for (int root = 0; root < n; ++root) {
    std::vector<OwnedTensor> t;
    for (int r = 0; r < n; ++r) {
      t.emplace_back(cpu_allocator(), DType::I32, Shape{37});
      for (int i = 0; i < 37; ++i) t[r].tensor.data<int32_t>()[i] = static_cast<int32_t>(rng()());
    }
    const OwnedTensor want = copy_of(t[root].tensor);
    expect_no_errors(run_ranks(n, [&](int r) { comms[r]->broadcast(t[r].tensor, root); }));
    for (int r = 0; r < n; ++r) EXPECT_TRUE(same_bytes(t[r].tensor, want.tensor)) << "rank " << r << " root " << root;
  }
}

// The fused reduction gives the bits of all_reduce_sum + the norm op, on every rank; with
// and without bias, float or int8 (W8A8 static) output, T below and above the world size.
TEST_P(ThreadCommTest, FusedNormEqualsAllReduceThenNorm) {
  const int n = GetParam();
  auto comms = make_thread_comms(n);
  const int64_t H = 96;
  for (int64_t T : {int64_t{1}, int64_t{n + 1}, int64_t{37}}) {
    for (bool bias : {false, true}) {
      for (bool quant : {false, true}) {
        const OwnedTensor w = random_tensor(DType::F32, {H}), b = random_tensor(DType::F32, {H});
        const OwnedTensor residual0 = random_tensor(DType::F32, {T, H});
        const DType out_dtype = quant ? DType::I8 : DType::F32;
        const StaticQuant q{0.05f, 3.0f};
        std::vector<OwnedTensor> x_fused, x_plain, res_fused, res_plain, out_fused, out_plain;
        for (int r = 0; r < n; ++r) {
          x_fused.push_back(random_tensor(DType::F32, {T, H}));
          x_plain.push_back(copy_of(x_fused[r].tensor));
          res_fused.push_back(copy_of(residual0.tensor));
          res_plain.push_back(copy_of(residual0.tensor));
          out_fused.emplace_back(cpu_allocator(), out_dtype, Shape{T, H});
          out_plain.emplace_back(cpu_allocator(), out_dtype, Shape{T, H});
        }
        const Tensor bias_t = bias ? b.tensor : Tensor{};
        expect_no_errors(run_ranks(n, [&](int r) {
          AllReduceNorm a{x_fused[r].tensor, res_fused[r].tensor, w.tensor, bias_t, 1e-6f, out_fused[r].tensor, {}};
          if (quant) a.quant = q;
          ASSERT_TRUE(comms[r]->all_reduce_rms_norm(a));
          comms[r]->all_reduce_sum(x_plain[r].tensor);
          if (quant)
            cpu::rms_norm_quant(x_plain[r].tensor, w.tensor, bias_t, 1e-6f, q.scale, q.offset, out_plain[r].tensor,
                                res_plain[r].tensor);
          else
            cpu::rms_norm(x_plain[r].tensor, w.tensor, bias_t, 1e-6f, out_plain[r].tensor, res_plain[r].tensor);
        }));
        for (int r = 0; r < n; ++r) {
          EXPECT_TRUE(same_bytes(res_fused[r].tensor, res_plain[r].tensor)) << "residual, rank " << r << " T " << T;
          EXPECT_TRUE(same_bytes(out_fused[r].tensor, out_plain[r].tensor))
              << "out, rank " << r << " T " << T << " bias " << bias << " quant " << quant;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, ThreadCommTest, ::testing::Values(2, 3, 4, 8));

TEST(ThreadComm, MismatchedCallsFailOnEveryRank) {
  auto comms = make_thread_comms(2);
  OwnedTensor a(cpu_allocator(), DType::F32, {4}), b(cpu_allocator(), DType::F32, {8});
  const auto errors = run_ranks(2, [&](int r) { comms[r]->all_reduce_sum(r == 0 ? a.tensor : b.tensor); });
  for (const std::string& e : errors) EXPECT_NE(e.find("collectives do not match"), std::string::npos) << e;
}

TEST(ThreadComm, AbortWakesARankWaitingInACollective) {
  auto group = std::make_shared<LocalGroup>(2);
  auto comm = make_thread_comm(group, 0);
  OwnedTensor t(cpu_allocator(), DType::F32, {4});
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    group->abort("rank 1 failed to load its weights");
  });
  const auto t0 = Clock::now();
  try {
    comm->all_reduce_sum(t.tensor);
    ADD_FAILURE() << "all_reduce_sum returned on an aborted group";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1 failed to load its weights"), std::string::npos) << e.what();
  }
  killer.join();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  EXPECT_THROW(comm->all_reduce_sum(t.tensor), std::exception);  // and stays aborted
}

// The communicator's own abort (what a failing rank's runner calls): the other rank's
// collective ends with the reason, and check() reports it from then on.
TEST(ThreadComm, CommunicatorAbortEndsTheOthersCollectives) {
  auto comms = make_thread_comms(2);
  OwnedTensor t(cpu_allocator(), DType::F32, {4});
  EXPECT_NO_THROW(comms[0]->check());
  const auto errors = run_ranks(2, [&](int r) {
    if (r == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      comms[1]->abort("rank 1 of 2: out of memory");
      return;
    }
    comms[0]->all_reduce_sum(t.tensor);
  });
  EXPECT_NE(errors[0].find("rank 1 of 2: out of memory"), std::string::npos) << errors[0];
  for (int r = 0; r < 2; ++r) {
    try {
      comms[r]->check();
      ADD_FAILURE() << "check() passed on an aborted group";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos) << e.what();
    }
  }
}

TEST(ThreadComm, ARankThatNeverComesTimesOut) {
  auto group = std::make_shared<LocalGroup>(3, std::chrono::milliseconds(100));
  auto c0 = make_thread_comm(group, 0), c1 = make_thread_comm(group, 1);
  OwnedTensor a(cpu_allocator(), DType::F32, {4}), b(cpu_allocator(), DType::F32, {4});
  const auto errors = run_ranks(2, [&](int r) { (r == 0 ? c0 : c1)->all_reduce_sum(r == 0 ? a.tensor : b.tensor); });
  for (const std::string& e : errors) EXPECT_NE(e.find("rank(s) 2"), std::string::npos) << e;
  EXPECT_TRUE(group->aborted());
}

TEST(LocalGroup, ExchangeReturnsEveryRanksValueInOrder) {
  auto group = std::make_shared<LocalGroup>(4);
  std::vector<std::vector<int>> seen(4);
  expect_no_errors(run_ranks(4, [&](int r) {
    for (int round = 0; round < 100; ++round) {
      const std::vector<int> v = group->exchange_value(r, r * 1000 + round);
      for (int q = 0; q < 4; ++q)
        if (v[q] != q * 1000 + round) throw std::runtime_error("round " + std::to_string(round) + " mixed up");
    }
  }));
}

}  // namespace
}  // namespace rotor
