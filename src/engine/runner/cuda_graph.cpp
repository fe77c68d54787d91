// engine/runner/cuda_graph.cpp — stream capture, instantiation and replay of a CUDA graph
// (the decode step of model_runner.cpp). Without CUDA, capture() explains that it needs it.
#include "engine/runner/cuda_graph.h"

#include "core/check.h"

#ifdef ROTOR_HAVE_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_ops.h"
#endif

namespace rotor {

#ifdef ROTOR_HAVE_CUDA
namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();
    ROTOR_FAIL("CUDA graph {}: {}", what, cudaGetErrorString(err));
  }
}

}  // namespace

std::unique_ptr<CudaGraph> CudaGraph::capture(Ops& ops, const std::function<void()>& body) {
  cudaStream_t stream = cuda_stream(ops);
  std::unique_ptr<CudaGraph> g(new CudaGraph());
  g->stream_ = stream;
  check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
  try {
    body();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream, &broken);
    if (broken) cudaGraphDestroy(broken);
    cudaGetLastError();
    throw;
  }
  cudaGraph_t graph = nullptr;
  check(cudaStreamEndCapture(stream, &graph), "end capture");
  g->graph_ = graph;
  cudaGraphExec_t exec = nullptr;
  check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  g->exec_ = exec;
  check(cudaGraphUpload(exec, stream), "upload");
  return g;
}

CudaGraph::~CudaGraph() {
  if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
}

void CudaGraph::replay() {
  check(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), static_cast<cudaStream_t>(stream_)), "launch");
}

#else

std::unique_ptr<CudaGraph> CudaGraph::capture(Ops&, const std::function<void()>&) {
  ROTOR_FAIL("CUDA graphs need a CUDA build of rotor and a GPU backend");
}

CudaGraph::~CudaGraph() = default;

void CudaGraph::replay() { ROTOR_FAIL("CUDA graphs need a CUDA build of rotor"); }

#endif

}  // namespace rotor
