// apps/parallel_args.h — the parallelism flags of `rotor serve` and `rotor generate` (vLLM's
// names): --tensor-parallel-size (-tp), --enable-expert-parallel, --pipeline-parallel-size
// (-pp), --distributed-executor-backend, and the multi-node ones (--nnodes, --node-rank,
// --master-addr, --master-port). rotor runs one process per node with a thread per rank;
// more than one node and pipeline stages are not there (docs/tensor-parallel.md says how
// nodes will join).
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace rotor::app {

struct ParallelArgs {
  int tensor_parallel_size = 1;
  bool enable_expert_parallel = false;
  int pipeline_parallel_size = 1;
  std::string distributed_executor_backend;   // mp | uni (one process here either way); ray: refused
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr;
  int master_port = 0;
};

void add_parallel_flags(CLI::App& cmd, ParallelArgs& args);
// Throws rotor::Error (one line) for values out of range; returns what rotor cannot run (more
// than one node, pipeline stages, Ray), each a line naming the flag.
std::vector<std::string> check_parallel(const ParallelArgs& args);
nlohmann::ordered_json parallel_json(const ParallelArgs& args);

}  // namespace rotor::app
