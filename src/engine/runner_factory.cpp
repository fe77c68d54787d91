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

RunnerFactory::RunnerFactory(ModelConfig model, RankSet& ranks, std::vector<ModelWeights> weights)
    : RunnerFactory(std::move(model), ranks.resources(std::move(weights)),
                    ranks.world_size() > 1 ? &ranks.threads() : nullptr) {}

int64_t RunnerFactory::kv_block_bytes(int block_size, KvCacheDtype dtype) const {
  size_t most = 0;
  for (const ShardSpec& s : shards_)
    most = std::max(most, ModelRunner::kv_block_bytes(model_, s, block_size, KvCache::kv_dtype(*ops_, dtype)));
  return static_cast<int64_t>(most);
}

std::unique_ptr<StepRunner> RunnerFactory::build(const RunnerOptions& options, int* num_blocks) {
  ROTOR_CHECK(!built_, "the runner factory has built its runners already");
  built_ = true;
  std::vector<std::unique_ptr<ModelRunner>> runners;
  if (threads_) {
    runners = build_rank_runners(model_, std::move(ranks_), options, *threads_);
  } else {
    RankThreads here(1);  // one rank: built on this thread
    runners = build_rank_runners(model_, std::move(ranks_), options, here);
  }
  *num_blocks = runners[0]->options().num_blocks;
  return std::make_unique<ModelStepRunner>(
      std::move(runners), threads_, std::vector<int32_t>(model_.eos_token_ids.begin(), model_.eos_token_ids.end()));
}

}  // namespace rotor
