// apps/parallel_args.cpp — the parallelism flags, their checks and their JSON.
#include "apps/parallel_args.h"

#include <fmt/format.h>

#include "core/check.h"

namespace rotor::app {

void add_parallel_flags(CLI::App& cmd, ParallelArgs& a) {
  cmd.add_option("--tensor-parallel-size", a.tensor_parallel_size,
                 "Ranks (GPUs, or CPU ranks with --device cpu) the model is split over (also -tp); "
                 "ROTOR_SAME_DEVICE_RANKS=1 puts them all on GPU 0")
      ->capture_default_str();
  cmd.add_flag("--enable-expert-parallel", a.enable_expert_parallel,
               "Whole experts per rank instead of a slice of every expert (the ranks' outputs are summed)");
  cmd.add_option("--pipeline-parallel-size", a.pipeline_parallel_size, "Pipeline stages (only 1; also -pp)")
      ->capture_default_str();
  cmd.add_option("--distributed-executor-backend", a.distributed_executor_backend,
                 "mp or uni: rotor runs a thread per rank in this process either way (ray: not supported)");
  cmd.add_option("--nnodes,-n", a.nnodes, "Nodes (only 1)")->capture_default_str();
  cmd.add_option("--node-rank,-r", a.node_rank, "This node's rank (only 0)")->capture_default_str();
  cmd.add_option("--master-addr", a.master_addr, "Address of node 0 (for more than one node: not supported yet)");
  cmd.add_option("--master-port", a.master_port, "Port of node 0 (for more than one node: not supported yet)");
}

std::vector<std::string> check_parallel(const ParallelArgs& a) {
  ROTOR_CHECK(a.tensor_parallel_size >= 1, "--tensor-parallel-size must be at least 1 (got {})",
              a.tensor_parallel_size);
  ROTOR_CHECK(a.pipeline_parallel_size >= 1, "--pipeline-parallel-size must be at least 1 (got {})",
              a.pipeline_parallel_size);
  ROTOR_CHECK(a.nnodes >= 1, "--nnodes must be at least 1 (got {})", a.nnodes);
  ROTOR_CHECK(a.node_rank >= 0 && a.node_rank < a.nnodes, "--node-rank {} of --nnodes {}", a.node_rank, a.nnodes);
  ROTOR_CHECK(a.master_port >= 0 && a.master_port <= 65535, "--master-port must be between 0 and 65535 (got {})",
              a.master_port);
  const std::string& b = a.distributed_executor_backend;
  ROTOR_CHECK(b.empty() || b == "mp" || b == "uni" || b == "ray" || b == "external_launcher",
              "--distributed-executor-backend must be mp, uni, ray or external_launcher (got '{}')", b);
  std::vector<std::string> no;
  if (b == "ray" || b == "external_launcher")
    no.push_back(fmt::format("--distributed-executor-backend {}: rotor runs one process per node with a thread per "
                             "rank (use mp)",
                             b));
  if (b == "uni" && a.tensor_parallel_size > 1)
    no.push_back(fmt::format("--distributed-executor-backend uni with --tensor-parallel-size {}: uni runs one rank "
                             "(use mp)",
                             a.tensor_parallel_size));
  if (a.pipeline_parallel_size > 1)
    no.push_back(fmt::format("--pipeline-parallel-size {}: rotor has no pipeline parallelism (use "
                             "--tensor-parallel-size)",
                             a.pipeline_parallel_size));
  if (a.nnodes > 1)
    no.push_back(fmt::format("--nnodes {}: rotor runs on one node (docs/tensor-parallel.md says how more will join)",
                             a.nnodes));
  return no;
}

nlohmann::ordered_json parallel_json(const ParallelArgs& a) {
  return {{"tensor_parallel_size", a.tensor_parallel_size},
          {"enable_expert_parallel", a.enable_expert_parallel},
          {"pipeline_parallel_size", a.pipeline_parallel_size},
          {"distributed_executor_backend", a.distributed_executor_backend.empty() ? "mp" : a.distributed_executor_backend},
          {"nnodes", a.nnodes},
          {"node_rank", a.node_rank}};
}

}  // namespace rotor::app
