// engine/runner_factory.h — RunnerFactory: where an Engine's StepRunner comes from. It holds
// every tensor-parallel rank's backend, communicator and weights (each of its ShardSpec) and
// the ranks' threads, and once the engine knows its runner options builds the ranks'
// ModelRunners on those threads with one agreed number of KV blocks
// (engine/runner/rank_runners.h) and the StepRunner over them (engine/model_step_runner.h).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/runner/rank_runners.h"
#include "engine/runner/rank_set.h"
#include "engine/step_runner.h"

namespace rotor {

class RunnerFactory {
 public:
  // ranks[r] is rank r of ranks.size(); with more than one, `threads` (one per rank, outliving
  // the StepRunner built) runs each rank's work.
  RunnerFactory(ModelConfig model, std::vector<RankResources> ranks, RankThreads* threads = nullptr);
  // Over the ranks of `ranks` (which must outlive the StepRunner built) and their weights.
  RunnerFactory(ModelConfig model, RankSet& ranks, std::vector<ModelWeights> weights);

  const ModelConfig& model() const { return model_; }
  int world_size() const { return static_cast<int>(shards_.size()); }
  // Rank 0's backend (every rank's is of the same kind).
  Ops& ops() const { return *ops_; }
  // Bytes of KV cache one block of `dtype` takes on the rank that needs the most.
  int64_t kv_block_bytes(int block_size, KvCacheDtype dtype) const;
  // Builds the ranks' runners (once) and the StepRunner over them; *num_blocks: the KV blocks
  // every rank holds.
  std::unique_ptr<StepRunner> build(const RunnerOptions& options, int* num_blocks);

 private:
  ModelConfig model_;
  std::vector<RankResources> ranks_;   // until build()
  RankThreads* threads_;
  Ops* ops_;
  std::vector<ShardSpec> shards_;
  bool built_ = false;
};

}  // namespace rotor
