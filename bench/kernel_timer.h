// bench/kernel_timer.h — how rotor_bench_kernels measures: the GPU time of an op's calls
// (captured in a CUDA graph, replays timed with CUDA events, median) and the result table
// (each row's bandwidth or FLOP rate, the bandwidth beside the device-copy ceiling).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/check.h"

namespace rotor {

struct Timer {
  cudaStream_t stream;
  // Median GPU milliseconds of one fn call: after warm-ups (outside capture, so scratch is
  // grown), `reps` calls are captured in one CUDA graph and the graph's replays are timed,
  // which leaves out host launch overhead.
  double median_ms(const std::function<void(int)>& fn, int iters = 10, int warm = 3) {
    for (int i = 0; i < warm; ++i) fn(i);
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    cudaEventRecord(a, stream);
    fn(warm);
    cudaEventRecord(b, stream);
    cudaEventSynchronize(b);
    float once = 0;
    cudaEventElapsedTime(&once, a, b);
    const int reps = std::clamp(static_cast<int>(2.0f / std::max(once, 1e-3f)), 1, 50);
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "capture");
    for (int i = 0; i < reps; ++i) fn(warm + 1 + i);
    check(cudaStreamEndCapture(stream, &graph), "end capture");
    check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
    check(cudaGraphLaunch(exec, stream), "launch");
    std::vector<float> ms;
    for (int i = 0; i < iters; ++i) {
      cudaEventRecord(a, stream);
      cudaGraphLaunch(exec, stream);
      cudaEventRecord(b, stream);
      check(cudaEventSynchronize(b), "replay");
      float t = 0;
      cudaEventElapsedTime(&t, a, b);
      ms.push_back(t / reps);
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }
  static void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) ROTOR_FAIL("bench: CUDA {}: {}", what, cudaGetErrorString(e));
  }
};

// The rows measured so far; each is printed as it comes, the whole table at the end.
struct KernelTable {
  struct Row {
    std::string name, shape;
    double ms, gbps, tflops;
  };
  std::vector<Row> rows;

  // One call of `ms` milliseconds that moves `bytes` and does `flops`.
  void add(std::string name, std::string shape, double ms, double bytes, double flops) {
    rows.push_back({std::move(name), std::move(shape), ms, bytes / ms / 1e6, flops / ms / 1e9});
    std::printf("%-22s %-34s %9.1f us %8.0f GB/s %7.1f TFLOP/s\n", rows.back().name.c_str(), rows.back().shape.c_str(),
                ms * 1e3, rows.back().gbps, rows.back().tflops);
    std::fflush(stdout);
  }
  // The markdown table; `ceiling` is the copy rate in GB/s.
  void print(double ceiling) const {
    std::printf("\n| kernel | shape | time (us) | GB/s | TFLOP/s | of copy ceiling |\n| --- | --- | --- | --- | --- | --- |\n");
    for (const Row& r : rows)
      std::printf("| %s | %s | %.1f | %.0f | %.1f | %.0f%% |\n", r.name.c_str(), r.shape.c_str(), r.ms * 1e3, r.gbps,
                  r.tflops, 100.0 * r.gbps / ceiling);
  }
};

}  // namespace rotor
