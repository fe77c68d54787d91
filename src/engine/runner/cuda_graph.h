// engine/runner/cuda_graph.h — one CUDA graph: the device work a callable queues on a CUDA
// backend's stream, captured once and replayed. Built only with CUDA (ROTOR_HAVE_CUDA);
// the header itself names no CUDA type.
#pragma once
#include <functional>
#include <memory>

#include "kernels/ops.h"

namespace rotor {

class CudaGraph {
 public:
  // Runs `body` with the stream of `ops` in capture mode and instantiates what it queued.
  // body must not allocate device memory or wait for the device.
  static std::unique_ptr<CudaGraph> capture(Ops& ops, const std::function<void()>& body);
  ~CudaGraph();
  // Queues the captured work on the stream again.
  void replay();

 private:
  CudaGraph() = default;
  void* stream_ = nullptr;   // cudaStream_t
  void* graph_ = nullptr;    // cudaGraph_t
  void* exec_ = nullptr;     // cudaGraphExec_t
};

}  // namespace rotor
