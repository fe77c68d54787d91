// tests/comm/test_cuda_comm.cpp — the GPU communicator with ranks as threads of this process
// (skipped without a GPU). On one GPU (same-device ranks, no NCCL): the peer all-reduce,
// one-shot and two-shot, for 2, 4 and 8 ranks and every message size from 2 KiB to 16 MiB,
// eagerly and replayed from a CUDA graph, equals the host's sum in rank order bit for bit
// (integer-valued data: the exact sum; random data: within bf16 rounding of the exact sum);
// the fused all-reduce + residual + RMSNorm against the CUDA rms_norm op; all-gather and
// broadcast; messages larger than the staging buffer; a rank that never comes and an aborted
// group end the wait with a clear error. With 2 or more GPUs: the same over NCCL.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>

#include "comm/cuda_comm.h"
#include "core/bf16.h"
#include "kernels/cuda/cuda_ops.h"

namespace rotor {
namespace {

using namespace std::chrono_literals;

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

// Device memory of one rank.
struct DeviceBuf {
  void* p = nullptr;
  int device = 0;
  DeviceBuf(int dev, size_t bytes) : device(dev) {
    cuda_ok(cudaSetDevice(dev), "cudaSetDevice");
    cuda_ok(cudaMalloc(&p, std::max<size_t>(bytes, 16)), "cudaMalloc");
  }
  ~DeviceBuf() { cudaFree(p); }
  DeviceBuf(const DeviceBuf&) = delete;
  Tensor tensor(DType d, Shape s) const { return Tensor(p, d, s, Device{DeviceType::CUDA, device}); }
};

// Small fast generator: random data needs to be fresh, not cryptographic.
struct XorShift {
  uint64_t s;
  explicit XorShift(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  float uniform() { return static_cast<float>(next() >> 40) / static_cast<float>(1 << 24) * 4.0f - 2.0f; }
  int small_int() { return static_cast<int>(next() % 33) - 16; }  // |sum of 8| <= 128: exact in bf16
};

std::vector<uint16_t> random_bf16(size_t n, uint64_t seed, bool integers) {
  XorShift g(seed);
  std::vector<uint16_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = f32_to_bf16(integers ? static_cast<float>(g.small_int()) : g.uniform());
  return v;
}

// The sum over ranks in rank order, in f32, rounded once (the communicator's contract).
std::vector<uint16_t> rank_order_sum(const std::vector<std::vector<uint16_t>>& in) {
  std::vector<uint16_t> s(in[0].size());
  for (size_t i = 0; i < s.size(); ++i) {
    float acc = bf16_to_f32(in[0][i]);
    for (size_t r = 1; r < in.size(); ++r) acc += bf16_to_f32(in[r][i]);
    s[i] = f32_to_bf16(acc);
  }
  return s;
}

// N ranks, each a thread with its own stream and communicator.
struct GpuRanks {
  std::shared_ptr<LocalGroup> group;
  std::vector<int> devices;
  std::vector<cudaStream_t> streams;
  std::vector<std::unique_ptr<CudaComm>> comms;

  explicit GpuRanks(std::vector<int> devs, CudaCommOptions o = {}, std::chrono::milliseconds timeout = 60s)
      : group(std::make_shared<LocalGroup>(static_cast<int>(devs.size()), timeout)),
        devices(std::move(devs)),
        streams(devices.size()),
        comms(devices.size()) {
    for (int d : devices) {  // create each GPU's context before the ranks meet under the timeout
      cuda_ok(cudaSetDevice(d), "cudaSetDevice");
      cuda_ok(cudaFree(nullptr), "CUDA context");
    }
    each([&](int r) {
      cuda_ok(cudaStreamCreateWithFlags(&streams[r], cudaStreamNonBlocking), "cudaStreamCreate");
      comms[r] = make_cuda_comm(group, r, devices[r], streams[r], o);
    });
  }
  ~GpuRanks() {
    comms.clear();
    for (cudaStream_t s : streams) cudaStreamDestroy(s);
  }
  int size() const { return static_cast<int>(devices.size()); }

  // fn(rank) on one thread per rank (its GPU current); returns each rank's error ("" = none).
  std::vector<std::string> try_each(const std::function<void(int)>& fn) {
    std::vector<std::string> errors(devices.size());
    std::vector<std::thread> threads;
    for (int r = 0; r < size(); ++r)
      threads.emplace_back([&, r] {
        try {
          cuda_ok(cudaSetDevice(devices[r]), "cudaSetDevice");
          fn(r);
        } catch (const std::exception& e) {
          errors[r] = e.what();
        }
      });
    for (std::thread& t : threads) t.join();
    return errors;
  }
  void each(const std::function<void(int)>& fn) {
    const std::vector<std::string> errors = try_each(fn);
    for (size_t r = 0; r < errors.size(); ++r)
      if (!errors[r].empty()) throw std::runtime_error("rank " + std::to_string(r) + ": " + errors[r]);
  }
  void sync(int r) {
    cuda_ok(cudaStreamSynchronize(streams[r]), "cudaStreamSynchronize");
    comms[r]->check();
  }
};

// One buffer per rank on its GPU, allocated (and later freed) from the test's thread while no
// collective is in flight: cudaFree synchronises the device, and on a shared GPU that would wait
// for another rank's collective that waits for this one.
using RankBufs = std::vector<std::unique_ptr<DeviceBuf>>;
RankBufs alloc(const GpuRanks& g, size_t bytes) {
  RankBufs b;
  for (int d : g.devices) b.push_back(std::make_unique<DeviceBuf>(d, bytes));
  return b;
}

// Host <-> device copies on the rank's stream (the legacy stream is left alone).
void upload(GpuRanks& g, int r, void* dst, const void* src, size_t bytes) {
  cuda_ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g.streams[r]), "upload");
  cuda_ok(cudaStreamSynchronize(g.streams[r]), "upload");
}
void download(GpuRanks& g, int r, void* dst, const void* src, size_t bytes) {
  cuda_ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g.streams[r]), "download");
  cuda_ok(cudaStreamSynchronize(g.streams[r]), "download");
}

// Runs `collective` (queued on the rank's stream) eagerly once, or captured in a CUDA graph
// together with `prepare` and replayed three times; `verify` runs after each execution.
void run_mode(GpuRanks& g, int r, bool graph, const std::function<void()>& prepare,
              const std::function<void()>& collective, const std::function<void()>& verify) {
  cudaStream_t s = g.streams[r];
  if (!graph) {
    prepare();
    collective();
    g.sync(r);
    return verify();
  }
  cudaGraph_t cg = nullptr;
  cudaGraphExec_t exec = nullptr;
  cuda_ok(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "begin capture");
  prepare();
  collective();
  cuda_ok(cudaStreamEndCapture(s, &cg), "end capture");
  cuda_ok(cudaGraphInstantiate(&exec, cg, 0), "instantiate");
  for (int rep = 0; rep < 3; ++rep) {
    cuda_ok(cudaGraphLaunch(exec, s), "graph launch");
    g.sync(r);
    verify();
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(cg);
}

std::string describe_mismatch(const std::vector<uint16_t>& got, const std::vector<uint16_t>& want) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i] && bad++ == 0) first = i;
  if (bad == 0) return "";
  return std::to_string(bad) + " of " + std::to_string(got.size()) + " differ, first at " + std::to_string(first) +
         ": got " + std::to_string(bf16_to_f32(got[first])) + " want " + std::to_string(bf16_to_f32(want[first]));
}

class SameDevice : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  }
};

// Every size from 2 KiB to 16 MiB (powers of two), one-shot and two-shot, eager and graph.
TEST_P(SameDevice, AllReduceEqualsTheHostSum) {
  const int n = GetParam();
  GpuRanks g(std::vector<int>(n, 0));
  ASSERT_FALSE(g.comms[0]->has_nccl()) << "NCCL refuses two ranks on one GPU: it must not be used";
  ASSERT_TRUE(g.comms[0]->has_peer());
  for (size_t bytes = 2 << 10; bytes <= (16u << 20); bytes *= 2) {
    const size_t numel = bytes / 2;
    for (bool integers : {true, false}) {
      std::vector<std::vector<uint16_t>> in(n);
      for (int r = 0; r < n; ++r) in[r] = random_bf16(numel, bytes * 131 + r * 7 + integers, integers);
      const std::vector<uint16_t> want = rank_order_sum(in);
      if (!integers) {  // the contract's sum is within bf16 rounding of the exact one
        for (size_t i = 0; i < numel; i += 997) {
          double exact = 0, mag = 0;
          for (int r = 0; r < n; ++r) exact += bf16_to_f32(in[r][i]), mag += std::fabs(bf16_to_f32(in[r][i]));
          ASSERT_LE(std::fabs(bf16_to_f32(want[i]) - exact), std::fabs(exact) / 256 + mag * 1e-6 + 1e-30);
        }
      }
      for (CommAlgo algo : {CommAlgo::OneShot, CommAlgo::TwoShot}) {
        for (bool graph : {false, true}) {
          std::vector<std::string> bad(n);
          const RankBufs src = alloc(g, bytes), t = alloc(g, bytes);
          g.each([&](int r) {
            std::vector<uint16_t> got(numel);
            upload(g, r, src[r]->p, in[r].data(), bytes);
            run_mode(
                g, r, graph,
                [&] {
                  cuda_ok(cudaMemcpyAsync(t[r]->p, src[r]->p, bytes, cudaMemcpyDeviceToDevice, g.streams[r]), "copy");
                },
                [&] { g.comms[r]->all_reduce_sum(t[r]->tensor(DType::BF16, {static_cast<int64_t>(numel)}), algo); },
                [&] {
                  download(g, r, got.data(), t[r]->p, bytes);
                  if (bad[r].empty()) bad[r] = describe_mismatch(got, want);
                });
          });
          for (int r = 0; r < n; ++r)
            ASSERT_EQ(bad[r], "") << n << " ranks, " << bytes << " bytes, " << comm_algo_name(algo)
                                  << (graph ? ", graph" : ", eager") << (integers ? ", integers" : ", random")
                                  << ", rank " << r;
        }
      }
    }
  }
}

// all_reduce + residual + RMSNorm in one: the residual bit for bit, the output within one bf16
// rounding of the CUDA rms_norm op applied to the reduced sum, and every rank the same bits.
TEST_P(SameDevice, FusedNormMatchesAllReduceThenRmsNorm) {
  const int n = GetParam();
  GpuRanks g(std::vector<int>(n, 0));
  std::unique_ptr<Ops> ops = make_cuda_ops(0);
  for (int64_t H : {int64_t{4096}, int64_t{1032}}) {
    for (int64_t T : {int64_t{1}, int64_t{5}, int64_t{32}, int64_t{300}}) {
      const size_t numel = static_cast<size_t>(T * H), bytes = numel * 2;
      std::vector<std::vector<uint16_t>> x(n);
      for (int r = 0; r < n; ++r) x[r] = random_bf16(numel, T * 1000 + H + r, false);
      const std::vector<uint16_t> sum = rank_order_sum(x), res0 = random_bf16(numel, 99 + T, false),
                                  w = random_bf16(H, 7, false), bias = random_bf16(H, 8, false);
      for (bool with_bias : {false, true}) {
        // The reference: the CUDA op on the host-reduced sum.
        DeviceBuf ds(0, bytes), dr(0, bytes), dout(0, bytes), dw(0, H * 2), db(0, H * 2);
        cudaMemcpy(ds.p, sum.data(), bytes, cudaMemcpyHostToDevice);
        cudaMemcpy(dr.p, res0.data(), bytes, cudaMemcpyHostToDevice);
        cudaMemcpy(dw.p, w.data(), H * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(db.p, bias.data(), H * 2, cudaMemcpyHostToDevice);
        const Tensor b_t = with_bias ? db.tensor(DType::BF16, {H}) : Tensor{};
        ops->rms_norm(ds.tensor(DType::BF16, {T, H}), dw.tensor(DType::BF16, {H}), b_t, 1e-6f,
                      dout.tensor(DType::BF16, {T, H}), dr.tensor(DType::BF16, {T, H}));
        ops->synchronize();
        std::vector<uint16_t> want_out(numel), want_res(numel);
        cudaMemcpy(want_out.data(), dout.p, bytes, cudaMemcpyDeviceToHost);
        cudaMemcpy(want_res.data(), dr.p, bytes, cudaMemcpyDeviceToHost);
        for (CommAlgo algo : {CommAlgo::OneShot, CommAlgo::TwoShot}) {
          for (bool graph : {false, true}) {
            std::vector<std::vector<uint16_t>> outs(n, std::vector<uint16_t>(numel));
            std::vector<std::string> bad(n);
            const RankBufs xs = alloc(g, bytes), rs = alloc(g, bytes), xt = alloc(g, bytes), rt = alloc(g, bytes),
                           ot = alloc(g, bytes);
            g.each([&](int r) {
              std::vector<uint16_t> res(numel);
              upload(g, r, xs[r]->p, x[r].data(), bytes);
              upload(g, r, rs[r]->p, res0.data(), bytes);
              const AllReduceNorm a{xt[r]->tensor(DType::BF16, {T, H}), rt[r]->tensor(DType::BF16, {T, H}),
                                    dw.tensor(DType::BF16, {H}), b_t, 1e-6f, ot[r]->tensor(DType::BF16, {T, H}), {}};
              run_mode(
                  g, r, graph,
                  [&] {
                    cuda_ok(cudaMemcpyAsync(xt[r]->p, xs[r]->p, bytes, cudaMemcpyDeviceToDevice, g.streams[r]),
                            "copy x");
                    cuda_ok(cudaMemcpyAsync(rt[r]->p, rs[r]->p, bytes, cudaMemcpyDeviceToDevice, g.streams[r]),
                            "copy residual");
                  },
                  [&] {
                    if (!g.comms[r]->all_reduce_rms_norm(a, algo)) throw std::runtime_error("fused form refused");
                  },
                  [&] {
                    download(g, r, outs[r].data(), ot[r]->p, bytes);
                    download(g, r, res.data(), rt[r]->p, bytes);
                    if (bad[r].empty() && !describe_mismatch(res, want_res).empty())
                      bad[r] = "residual: " + describe_mismatch(res, want_res);
                    for (size_t i = 0; i < numel && bad[r].empty(); ++i) {
                      const float got = bf16_to_f32(outs[r][i]), want = bf16_to_f32(want_out[i]);
                      if (std::fabs(got - want) > std::fabs(want) / 128 + 1e-6f)
                        bad[r] = "out[" + std::to_string(i) + "] " + std::to_string(got) + " vs rms_norm's " +
                                 std::to_string(want);
                    }
                  });
            });
            for (int r = 0; r < n; ++r) {
              ASSERT_EQ(bad[r], "") << n << " ranks, T " << T << " H " << H << ", " << comm_algo_name(algo)
                                    << (graph ? ", graph" : ", eager") << (with_bias ? ", bias" : "") << ", rank " << r;
              ASSERT_EQ(outs[r], outs[0]) << "ranks 0 and " << r << " differ";
            }
            size_t exact = 0;
            for (size_t i = 0; i < numel; ++i) exact += outs[0][i] == want_out[i];
            RecordProperty("exact_fraction", std::to_string(static_cast<double>(exact) / numel));
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, SameDevice, ::testing::Values(2, 4, 8));

class SameDeviceGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  }
};

// All-gather and broadcast without NCCL, aligned and not, and through pieces of a small
// staging buffer; eager and in a graph.
TEST_F(SameDeviceGpu, AllGatherAndBroadcastOverPeerKernels) {
  CudaCommOptions o;
  o.staging_bytes = 64 << 10;
  const int n = 4;
  GpuRanks g(std::vector<int>(n, 0), o);
  for (int64_t count : {int64_t{37}, int64_t{4096}, int64_t{100003}}) {  // i32 elements; the last > staging
    const size_t bytes = count * 4;
    std::vector<std::vector<int32_t>> in(n, std::vector<int32_t>(count));
    for (int r = 0; r < n; ++r)
      for (int64_t i = 0; i < count; ++i) in[r][i] = static_cast<int32_t>(XorShift(r * 1000003 + i).next());
    for (bool graph : {false, true}) {
      std::vector<std::string> bad(n);
      const RankBufs src = alloc(g, bytes), out = alloc(g, bytes * n), bt = alloc(g, bytes);
      g.each([&](int r) {
        std::vector<int32_t> got(count * n), got_b(count);
        upload(g, r, src[r]->p, in[r].data(), bytes);
        run_mode(
            g, r, graph,
            [&] {
              cuda_ok(cudaMemcpyAsync(bt[r]->p, src[r]->p, bytes, cudaMemcpyDeviceToDevice, g.streams[r]), "copy");
            },
            [&] {
              g.comms[r]->all_gather(src[r]->tensor(DType::I32, {count}), out[r]->tensor(DType::I32, {n * count}));
              g.comms[r]->broadcast(bt[r]->tensor(DType::I32, {count}), 2);
            },
            [&] {
              download(g, r, got.data(), out[r]->p, bytes * n);
              download(g, r, got_b.data(), bt[r]->p, bytes);
              for (int q = 0; q < n; ++q)
                if (std::memcmp(got.data() + q * count, in[q].data(), bytes) != 0) bad[r] = "gather part " + std::to_string(q);
              if (got_b != in[2]) bad[r] += " broadcast";
            });
      });
      for (int r = 0; r < n; ++r) EXPECT_EQ(bad[r], "") << count << " i32, rank " << r << (graph ? ", graph" : "");
    }
  }
}

// A message eight times the staging buffer goes in pieces, the fused form by rows.
TEST_F(SameDeviceGpu, MessagesLargerThanTheStagingGoInPieces) {
  CudaCommOptions o;
  o.staging_bytes = 64 << 10;
  const int n = 2;
  GpuRanks g(std::vector<int>(n, 0), o);
  const size_t numel = 256 << 10, bytes = numel * 2;
  std::vector<std::vector<uint16_t>> in(n);
  for (int r = 0; r < n; ++r) in[r] = random_bf16(numel, 5 + r, true);
  const std::vector<uint16_t> want = rank_order_sum(in);
  std::vector<std::string> bad(n);
  const RankBufs t = alloc(g, bytes);
  g.each([&](int r) {
    std::vector<uint16_t> got(numel);
    upload(g, r, t[r]->p, in[r].data(), bytes);
    g.comms[r]->all_reduce_sum(t[r]->tensor(DType::BF16, {static_cast<int64_t>(numel)}));
    g.sync(r);
    download(g, r, got.data(), t[r]->p, bytes);
    bad[r] = describe_mismatch(got, want);
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(bad[r], "") << "rank " << r;
}

// f32 all-reduce over the peer kernels (the vocabulary-parallel logits: each rank's columns of
// zeroed rows, summed): random f32 data summed in rank order bit for bit, one-shot and
// two-shot, eager and in a graph, one [32, 151936] message (19 MiB: in pieces) and small ones.
TEST_P(SameDevice, F32AllReduceEqualsTheHostSum) {
  const int n = GetParam();
  GpuRanks g(std::vector<int>(n, 0));
  for (const int64_t numel : {int64_t{1024}, int64_t{4} * 151936, int64_t{32} * 151936}) {
    const size_t bytes = numel * 4;
    std::vector<std::vector<float>> in(n, std::vector<float>(numel));
    for (int r = 0; r < n; ++r) {
      XorShift x(numel * 31 + r);
      for (int64_t i = 0; i < numel; ++i)  // logits-like: a rank's own columns, zeros elsewhere, some mixed
        in[r][i] = i % n == r || i % 7 == 0 ? static_cast<float>(x.next() % 20001) / 1000.0f - 10.0f : 0.0f;
    }
    std::vector<float> want(numel);
    for (int64_t i = 0; i < numel; ++i) {
      float sum = in[0][i];
      for (int r = 1; r < n; ++r) sum += in[r][i];
      want[i] = sum;
    }
    for (CommAlgo algo : {CommAlgo::OneShot, CommAlgo::TwoShot})
      for (bool graph : {false, true}) {
        std::vector<std::string> bad(n);
        const RankBufs src = alloc(g, bytes), t = alloc(g, bytes);
        g.each([&](int r) {
          std::vector<float> got(numel);
          upload(g, r, src[r]->p, in[r].data(), bytes);
          run_mode(
              g, r, graph,
              [&] { cuda_ok(cudaMemcpyAsync(t[r]->p, src[r]->p, bytes, cudaMemcpyDeviceToDevice, g.streams[r]), "copy"); },
              [&] { g.comms[r]->all_reduce_sum(t[r]->tensor(DType::F32, {numel}), algo); },
              [&] {
                download(g, r, got.data(), t[r]->p, bytes);
                if (bad[r].empty() && std::memcmp(got.data(), want.data(), bytes) != 0) {
                  size_t i = 0;
                  while (got[i] == want[i]) ++i;
                  bad[r] = "element " + std::to_string(i) + ": got " + std::to_string(got[i]) + " want " +
                           std::to_string(want[i]);
                }
              });
        });
        for (int r = 0; r < n; ++r)
          ASSERT_EQ(bad[r], "") << n << " ranks, " << numel << " f32, " << comm_algo_name(algo)
                                << (graph ? ", graph" : ", eager") << ", rank " << r;
      }
  }
}

// A rank that never comes: the other's kernel gives up after the group's timeout, and the
// next check says who waited for whom; the group is aborted and later calls fail at once.
TEST_F(SameDeviceGpu, ARankThatNeverComesEndsInAClearError) {
  GpuRanks g(std::vector<int>(2, 0), {}, 500ms);
  DeviceBuf t(0, 4096);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> errors = g.try_each([&](int r) {
    if (r == 1) return;
    g.comms[0]->all_reduce_sum(t.tensor(DType::BF16, {2048}));
    g.sync(0);
  });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  EXPECT_NE(errors[0].find("rank 0 waited more than 0.5 s for rank 1"), std::string::npos) << errors[0];
  EXPECT_TRUE(g.group->aborted());
  EXPECT_THROW(g.comms[0]->all_reduce_sum(t.tensor(DType::BF16, {2048})), std::exception);
}

// Aborting the group (another rank failed) ends a device-side wait long before its timeout.
TEST_F(SameDeviceGpu, AbortEndsADeviceWait) {
  GpuRanks g(std::vector<int>(2, 0), {}, 600s);
  DeviceBuf t(0, 4096);
  std::thread killer([&] {
    std::this_thread::sleep_for(200ms);
    g.group->abort("rank 1 failed: out of memory");
  });
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> errors = g.try_each([&](int r) {
    if (r == 1) return;
    g.comms[0]->all_reduce_sum(t.tensor(DType::BF16, {2048}));
    g.sync(0);
  });
  killer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  EXPECT_NE(errors[0].find("rank 1 failed: out of memory"), std::string::npos) << errors[0];
}

// Two or more GPUs: NCCL for every collective, and the peer all-reduce across GPUs.
TEST(MultiGpu, NcclAndPeerCollectives) {
  const int count = cuda_device_count();
  if (count < 2) GTEST_SKIP() << "needs 2 GPUs, found " << count;
  const int n = std::min(count, 8);
  std::vector<int> devs(n);
  for (int r = 0; r < n; ++r) devs[r] = r;
  GpuRanks g(devs);
  ASSERT_TRUE(g.comms[0]->has_nccl());
  const size_t numel = 1 << 20, bytes = numel * 2;
  std::vector<std::vector<uint16_t>> in(n);
  for (int r = 0; r < n; ++r) in[r] = random_bf16(numel, 77 + r, true);
  const std::vector<uint16_t> want = rank_order_sum(in);
  std::vector<CommAlgo> algos{CommAlgo::Nccl};
  if (g.comms[0]->has_peer()) algos.insert(algos.end(), {CommAlgo::OneShot, CommAlgo::TwoShot});
  for (CommAlgo algo : algos) {
    std::vector<std::string> bad(n);
    const RankBufs t = alloc(g, bytes), all = alloc(g, bytes * n);
    g.each([&](int r) {
      std::vector<uint16_t> got(numel), gathered(numel * n);
      upload(g, r, t[r]->p, in[r].data(), bytes);
      g.comms[r]->all_gather(t[r]->tensor(DType::BF16, {static_cast<int64_t>(numel)}),
                             all[r]->tensor(DType::BF16, {static_cast<int64_t>(numel) * n}));
      g.comms[r]->all_reduce_sum(t[r]->tensor(DType::BF16, {static_cast<int64_t>(numel)}), algo);
      g.sync(r);
      download(g, r, got.data(), t[r]->p, bytes);
      download(g, r, gathered.data(), all[r]->p, bytes * n);
      bad[r] = describe_mismatch(got, want);
      for (int q = 0; q < n; ++q)
        if (std::memcmp(gathered.data() + q * numel, in[q].data(), bytes) != 0) bad[r] += " gather part " + std::to_string(q);
    });
    for (int r = 0; r < n; ++r) EXPECT_EQ(bad[r], "") << comm_algo_name(algo) << ", rank " << r << " of " << n;
  }
}

}  // namespace
}  // namespace rotor
