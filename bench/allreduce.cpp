// bench/allreduce.cpp — rotor_bench_allreduce: latency of the all-reduce per message size
// for the peer kernels (one-shot, two-shot, and fused with residual + RMSNorm at hidden 4096)
// and NCCL (ranks on separate GPUs only), launched eagerly and replayed from a CUDA graph.
// Ranks are threads of this process with a stream each; on a machine with fewer GPUs than
// ranks (or with --same-device) they share GPU 0. Each figure is the median over repeats of
// (time of `calls` back-to-back collectives) / calls, the slowest rank's, in microseconds.
#include <CLI/CLI.hpp>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "comm/cuda_comm.h"
#include "core/check.h"
#include "kernels/cuda/cuda_ops.h"

namespace rotor {
namespace {

void ok(cudaError_t e, const char* what) { ROTOR_CHECK(e == cudaSuccess, "{}: {}", what, cudaGetErrorString(e)); }

struct Ranks {
  std::shared_ptr<LocalGroup> group;
  std::vector<int> devices;
  std::vector<cudaStream_t> streams;
  std::vector<std::unique_ptr<CudaComm>> comms;

  explicit Ranks(std::vector<int> devs) : group(std::make_shared<LocalGroup>(static_cast<int>(devs.size()))),
                                          devices(std::move(devs)), streams(devices.size()), comms(devices.size()) {
    for (int d : devices) {
      ok(cudaSetDevice(d), "cudaSetDevice");
      ok(cudaFree(nullptr), "context");
    }
    each([&](int r) {
      ok(cudaStreamCreateWithFlags(&streams[r], cudaStreamNonBlocking), "stream");
      comms[r] = make_cuda_comm(group, r, devices[r], streams[r]);
    });
  }
  ~Ranks() {
    comms.clear();
    for (cudaStream_t s : streams) cudaStreamDestroy(s);
  }
  int size() const { return static_cast<int>(devices.size()); }
  void each(const std::function<void(int)>& fn) {
    std::vector<std::string> errors(devices.size());
    std::vector<std::thread> threads;
    for (int r = 0; r < size(); ++r)
      threads.emplace_back([&, r] {
        try {
          ok(cudaSetDevice(devices[r]), "cudaSetDevice");
          fn(r);
        } catch (const std::exception& e) {
          errors[r] = e.what();
          group->abort(e.what());
        }
      });
    for (std::thread& t : threads) t.join();
    for (int r = 0; r < size(); ++r) ROTOR_CHECK(errors[r].empty(), "rank {}: {}", r, errors[r]);
  }
};

// Microseconds per collective, the slowest rank's median over `repeats`; `call(r)` queues one
// collective of rank r on its stream.
double time_us(Ranks& ranks, bool graph, int calls, int repeats, const std::function<void(int)>& call) {
  std::vector<double> worst(repeats, 0.0);
  std::mutex mu;
  ranks.each([&](int r) {
    cudaStream_t s = ranks.streams[r];
    for (int i = 0; i < 3; ++i) call(r);  // warm-up
    cudaGraphExec_t exec = nullptr;
    if (graph) {
      cudaGraph_t g = nullptr;
      ok(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "capture");
      for (int i = 0; i < calls; ++i) call(r);
      ok(cudaStreamEndCapture(s, &g), "end capture");
      ok(cudaGraphInstantiate(&exec, g, 0), "instantiate");
      cudaGraphDestroy(g);
      ok(cudaGraphLaunch(exec, s), "warm-up replay");
    }
    ok(cudaStreamSynchronize(s), "warm-up");
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (int rep = 0; rep < repeats; ++rep) {
      ranks.group->barrier(r);
      cudaEventRecord(a, s);
      if (graph) ok(cudaGraphLaunch(exec, s), "replay");
      else
        for (int i = 0; i < calls; ++i) call(r);
      cudaEventRecord(b, s);
      ok(cudaEventSynchronize(b), "timed run");
      ranks.comms[r]->check();
      float ms = 0;
      cudaEventElapsedTime(&ms, a, b);
      std::lock_guard lock(mu);
      worst[rep] = std::max(worst[rep], 1000.0 * ms / calls);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    if (exec) cudaGraphExecDestroy(exec);
  });
  std::sort(worst.begin(), worst.end());
  return worst[repeats / 2];
}

std::string size_name(size_t bytes) {
  if (bytes >= (1u << 20)) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes >> 10) + " KiB";
}

void bench(int n, bool same_device, size_t min_bytes, size_t max_bytes, int calls, int repeats) {
  std::vector<int> devices(n, 0);
  if (!same_device)
    for (int r = 0; r < n; ++r) devices[r] = r;
  Ranks ranks(devices);
  const bool nccl = ranks.comms[0]->has_nccl();
  std::printf("\n%d ranks on %s (peer collectives %s, NCCL %s)\n", n,
              same_device ? "GPU 0 (same-device ranks)" : (std::to_string(n) + " GPUs").c_str(),
              ranks.comms[0]->has_peer() ? "on" : "off", nccl ? "on" : "off");
  std::printf("| message | one-shot eager | one-shot graph | two-shot eager | two-shot graph | fused 1-shot graph |"
              " fused 2-shot graph | NCCL eager | NCCL graph | auto picks |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
  const int64_t H = 4096;
  const size_t most = max_bytes + 16;
  std::vector<void*> x(n), res(n), out(n), w(n);
  ranks.each([&](int r) {
    ok(cudaMalloc(&x[r], most), "x");
    ok(cudaMalloc(&res[r], most), "residual");
    ok(cudaMalloc(&out[r], most), "out");
    ok(cudaMalloc(&w[r], H * 2), "w");
    ok(cudaMemset(x[r], 0, most), "x");  // zeros: a sum of zeros stays finite however often it runs
    ok(cudaMemset(res[r], 0, most), "residual");
    ok(cudaMemset(w[r], 0, H * 2), "w");
  });
  auto dev = [&](int r) { return Device{DeviceType::CUDA, devices[r]}; };
  for (size_t bytes = min_bytes; bytes <= max_bytes; bytes *= 2) {
    const int64_t numel = static_cast<int64_t>(bytes / 2), T = numel / H;
    auto plain = [&](CommAlgo algo) {
      return [&, algo](int r) { ranks.comms[r]->all_reduce_sum(Tensor(x[r], DType::BF16, {numel}, dev(r)), algo); };
    };
    auto fused = [&](CommAlgo algo) {
      return [&, algo](int r) {
        const AllReduceNorm a{Tensor(x[r], DType::BF16, {T, H}, dev(r)), Tensor(res[r], DType::BF16, {T, H}, dev(r)),
                              Tensor(w[r], DType::BF16, {H}, dev(r)), Tensor{}, 1e-6f,
                              Tensor(out[r], DType::BF16, {T, H}, dev(r)), {}};
        ranks.comms[r]->all_reduce_rms_norm(a, algo);
      };
    };
    std::map<std::string, std::string> cell;
    auto put = [&](const std::string& k, double us) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.1f", us);
      cell[k] = buf;
    };
    if (ranks.comms[0]->has_peer()) {
      for (bool g : {false, true}) {
        put(std::string("1s") + (g ? "g" : "e"), time_us(ranks, g, calls, repeats, plain(CommAlgo::OneShot)));
        put(std::string("2s") + (g ? "g" : "e"), time_us(ranks, g, calls, repeats, plain(CommAlgo::TwoShot)));
      }
      if (T >= 1) {
        put("f1", time_us(ranks, true, calls, repeats, fused(CommAlgo::OneShot)));
        put("f2", time_us(ranks, true, calls, repeats, fused(CommAlgo::TwoShot)));
      }
    }
    if (nccl)
      for (bool g : {false, true})
        put(std::string("n") + (g ? "g" : "e"), time_us(ranks, g, calls, repeats, plain(CommAlgo::Nccl)));
    auto get = [&](const char* k) { return cell.count(k) ? cell[k] : std::string("-"); };
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", size_name(bytes).c_str(), get("1se").c_str(),
                get("1sg").c_str(), get("2se").c_str(), get("2sg").c_str(), get("f1").c_str(), get("f2").c_str(),
                get("ne").c_str(), get("ng").c_str(), comm_algo_name(ranks.comms[0]->pick(bytes)));
    if (bytes == (256u << 10))
      std::printf("RESULT allreduce %d ranks %s 256 KiB: one-shot graph %s us, two-shot graph %s us, fused one-shot "
                  "graph %s us, NCCL graph %s us\n",
                  n, same_device ? "one GPU" : "separate GPUs", get("1sg").c_str(), get("2sg").c_str(),
                  get("f1").c_str(), get("ng").c_str());
    std::fflush(stdout);
  }
  ranks.each([&](int r) {
    cudaFree(x[r]);
    cudaFree(res[r]);
    cudaFree(out[r]);
    cudaFree(w[r]);
  });
}

}  // namespace
}  // namespace rotor

int main(int argc, char** argv) {
  CLI::App app{"rotor_bench_allreduce: all-reduce latency per message size (peer kernels, NCCL)"};
  std::vector<int> ranks{2, 4, 8};
  bool same_device = false;
  size_t min_bytes = 2 << 10, max_bytes = 16 << 20;
  int calls = 50, repeats = 5;
  app.add_option("--ranks", ranks, "rank counts to measure")->delimiter(',')->capture_default_str();
  app.add_flag("--same-device", same_device, "every rank on GPU 0 (default when there are fewer GPUs than ranks)");
  app.add_option("--min-bytes", min_bytes, "smallest message")->capture_default_str();
  app.add_option("--max-bytes", max_bytes, "largest message (sizes double from the smallest)")->capture_default_str();
  app.add_option("--calls", calls, "collectives per timed run")->capture_default_str();
  app.add_option("--repeats", repeats, "timed runs per figure (median)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const int gpus = rotor::cuda_device_count();
    ROTOR_CHECK(gpus > 0, "no GPU");
    std::printf("rotor_bench_allreduce: microseconds per all-reduce (slowest rank, median of %d runs of %d calls); "
                "fused = all-reduce + residual + RMSNorm at hidden 4096\n",
                repeats, calls);
    for (int n : ranks) rotor::bench(n, same_device || gpus < n, min_bytes, max_bytes, calls, repeats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
