// engine/runner/rank_set.h — RankSet: the tensor-parallel ranks of this process (one process per
// node, one rank per GPU; or CPU ranks, or several ranks on one GPU for testing). It decides
// where each rank runs (the CPU, or a GPU and a lane of it: comm/placement.h, kernels/cuda),
// starts each rank's thread (RankThreads: its device current, and with enable_cpu_binding its
// cores bound near its GPU, the calling thread near rank 0's), makes each rank's backend and communicator (the thread
// communicator for CPU ranks; peer access and NCCL for GPU ranks, all in one LocalGroup),
// and aborts that group as soon as any rank fails. It loads each rank's shard of the model
// on that rank's thread and hands out the ranks' resources (build_rank_runners, and the
// engine's RunnerFactory). It must outlive the runners built from them.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/local_group.h"
#include "engine/runner/rank_runners.h"
#include "engine/runner/rank_threads.h"
#include "kernels/ops.h"
#include "model/load_model.h"

namespace rotor {

struct RankSetOptions {
  std::string device = "auto";  // cpu | cuda | cuda:N (one rank) | auto (a GPU when there is one)
  int world_size = 1;           // --tensor-parallel-size
  bool expert_parallel = false; // --enable-expert-parallel: whole experts per rank
  bool cpu_binding = false;     // enable_cpu_binding: each rank's thread near its GPU
  // --prefill-lane-sms: these ranks' lanes on this many SMs of their GPU and the lane after
  // each (the prefill lane's) on the rest (CUDA green contexts). Only where a GPU holds one
  // rank; ranks sharing a GPU (testing) and CPU ranks are not split. 0: not split.
  int lane_sms = 0;
  // The lane of a GPU its first rank takes (the prefill lane's set: after the decode set's).
  int first_lane = 0;
};

class RankSet {
 public:
  explicit RankSet(const RankSetOptions& options);
  ~RankSet();  // every rank's stream drained, then each rank's communicator and backend freed on its thread
  RankSet(const RankSet&) = delete;
  RankSet& operator=(const RankSet&) = delete;

  int world_size() const { return static_cast<int>(ops_.size()); }
  bool expert_parallel() const { return options_.expert_parallel; }
  Ops& ops(int rank) const { return *ops_[rank]; }
  Communicator& comm(int rank) const { return *comms_[rank]; }
  RankThreads& threads() { return *threads_; }
  // Where rank r runs, for the log: "cpu", "cuda:0", "cuda:0 lane 1".
  std::string where(int rank) const;
  // Rank r's lane of its GPU: first_lane for the first rank there (kernels/cuda/cuda_ops.h).
  int lane(int rank) const { return lanes_[rank]; }
  // The options of a set of ranks beside these (the prefill lane's): the same GPUs, each rank
  // on the lanes after this set's, its own threads, backends and communicators.
  RankSetOptions beside() const;

  // make(rank, ops) on every rank's thread at once (a rank's weights, on its device).
  std::vector<ModelWeights> make_weights(const std::function<ModelWeights(int rank, Ops& ops)>& make);
  // Each rank's shard of options.model (options.rank, world_size and expert_parallel are set
  // here); the configs are the same, rank 0's is returned with every rank's weights.
  struct Loaded {
    ModelConfig config;
    int64_t full_parameter_count = 0;
    std::vector<ModelWeights> weights;   // by rank
  };
  Loaded load(LoadOptions options);
  // Every rank's backend, communicator and weights (by rank), for build_rank_runners.
  std::vector<RankResources> resources(std::vector<ModelWeights> weights);

 private:
  RankSetOptions options_;
  std::vector<Device> devices_;
  std::vector<int> lanes_;
  std::shared_ptr<LocalGroup> group_;  // more than one rank
  std::vector<std::unique_ptr<Ops>> ops_;
  std::vector<std::unique_ptr<Communicator>> comms_;
  std::unique_ptr<RankThreads> threads_;
};

}  // namespace rotor
