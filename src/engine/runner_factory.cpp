// engine/runner_factory.cpp — the ranks' runners and the engine's StepRunner over them.
#include "engine/runner_factory.h"

#include <algorithm>

#include "core/check.h"
#include "engine/model_step_runner.h"

namespace rotor {

RunnerFactory::RunnerFactory(ModelConfig model, std::vector<RankResources> ranks, RankThreads* threads)
    : model_(std::move(model)), ranks_(std::move(ranks)), threads_(threads) {
  ROTOR_CHECK(!ranks_.empty(), "a runner factory with no ranks");
  ROTOR_CHECK(ranks_.size() == 1 || (threads_ && threads_->world_size() == static_cast<int>(ranks_.size())),
              "tensor parallel {}: the ranks need a thread each", ranks_.size());
  ops_ = ranks_[0].ops;
  for (const RankResources& r : ranks_) shards_.push_back(r.weights.shard);
}

RunnerFactory::RunnerFactory(ModelConfig model, RankSet& ranks, std::vector<ModelWeights> weights,
                             RankSet* prefill_lane)
    : RunnerFactory(std::move(model), ranks.resources(std::move(weights)),
                    ranks.world_size() > 1 ? &ranks.threads() : nullptr) {
  lane_ = prefill_lane;
  ROTOR_CHECK(!lane_ || lane_->world_size() == ranks.world_size(), "a prefill lane of {} ranks beside {}",
              lane_ ? lane_->world_size() : 0, ranks.world_size());
}

int64_t RunnerFactory::kv_block_bytes(int block_size, KvCacheDtype dtype) const {
  size_t most = 0;
  for (const ShardSpec& s : shards_)
    most = std::max(most, ModelRunner::kv_block_bytes(model_, s, block_size, KvCache::kv_dtype(*ops_, dtype)));
  return static_cast<int64_t>(most);
}

std::unique_ptr<StepRunner> RunnerFactory::build(const RunnerOptions& options, int* num_blocks,
                                                 std::unique_ptr<StepRunner>* prefill_runner, bool decodes_only) {
  ROTOR_CHECK(!built_, "the runner factory has built its runners already");
  ROTOR_CHECK(!lane_ || prefill_runner, "the runner factory has a prefill lane and nowhere to put its runner");
  built_ = true;
  const std::vector<int32_t> eos(model_.eos_token_ids.begin(), model_.eos_token_ids.end());
  RunnerOptions decode = options;
  std::unique_ptr<PrefillLaneResources> lane;
  if (lane_) {
    if (decodes_only) decode.max_num_tokens = options.max_num_seqs;  // one token a request: prompts in the lane
    lane = std::make_unique<PrefillLaneResources>();
    // The lane's weights are views of the decode runners': its own are empty.
    for (int r = 0; r < world_size(); ++r) lane->ranks.push_back({&lane_->ops(r), &lane_->comm(r), {}});
    lane->threads = &lane_->threads();
    lane->options = options;
    lane->options.max_num_seqs = 1;
    lane->options.cuda_graphs = false;
    lane->options.graph_batch_sizes.clear();
    // No growth once running: with ranks on several GPUs, a lane's thread waiting for its GPU
    // while the other lane's waits for another could each hold up a collective of the other.
    lane->options.reserve_sampling = true;
  }
  RankThreads here(1);  // one rank: built on this thread
  RankRunners runners =
      build_rank_runners(model_, std::move(ranks_), decode, threads_ ? *threads_ : here, lane.get());
  *num_blocks = runners.decode[0]->options().num_blocks;
  if (lane_)
    *prefill_runner = std::make_unique<ModelStepRunner>(std::move(runners.prefill),
                                                        world_size() > 1 ? &lane_->threads() : nullptr, eos);
  return std::make_unique<ModelStepRunner>(std::move(runners.decode), threads_, eos);
}

}  // namespace rotor
