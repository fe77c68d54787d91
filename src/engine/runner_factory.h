// engine/runner_factory.h — RunnerFactory: where an Engine's StepRunner comes from. It holds
// every tensor-parallel rank's backend, communicator and weights (each of its ShardSpec) and
// the ranks' threads, and once the engine knows its runner options builds the ranks'
// ModelRunners on those threads with one agreed number of KV blocks
// (engine/runner/rank_runners.h) and the StepRunner over them (engine/model_step_runner.h).
// With a prefill lane (docs/prefill-lane.md: a second RankSet beside the ranks) it builds the
// lane's runners beside them and a second StepRunner over those.
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
  // Over the ranks of `ranks` (which must outlive the StepRunner built) and their weights;
  // with `prefill_lane` (made from ranks.beside(), outliving the StepRunners built too) a
  // prefill lane beside them.
  RunnerFactory(ModelConfig model, RankSet& ranks, std::vector<ModelWeights> weights, RankSet* prefill_lane = nullptr);

  const ModelConfig& model() const { return model_; }
  int world_size() const { return static_cast<int>(shards_.size()); }
  // Rank 0's backend (every rank's is of the same kind).
  Ops& ops() const { return *ops_; }
  // Bytes of KV cache one block of `dtype` takes on the rank that needs the most.
  int64_t kv_block_bytes(int block_size, KvCacheDtype dtype) const;
  bool has_prefill_lane() const { return lane_ != nullptr; }
  // Builds the ranks' runners (once) and the StepRunner over them; *num_blocks: the KV blocks
  // every rank holds. With a prefill lane, *prefill_runner gets the lane's StepRunner (chunks
  // of one request, up to options.max_num_tokens tokens, no graphs; it must be destroyed
  // first), and with `decodes_only` the ranks' runners are sized for decodes only
  // (options.max_num_seqs tokens a step: no prompt chunks in their steps).
  std::unique_ptr<StepRunner> build(const RunnerOptions& options, int* num_blocks,
                                    std::unique_ptr<StepRunner>* prefill_runner = nullptr, bool decodes_only = true);

 private:
  ModelConfig model_;
  std::vector<RankResources> ranks_;   // until build()
  RankThreads* threads_;
  RankSet* lane_ = nullptr;
  Ops* ops_;
  std::vector<ShardSpec> shards_;
  bool built_ = false;
};

}  // namespace rotor
