// engine/runner_factory.cpp — the ranks' runners and the engine's StepRunner over them.
#include "engine/runner_factory.h"

#include <algorithm>

#include "core/check.h"
#include "engine/model_step_runner.h"

namespace rotor {

RunnerFactory::RunnerFactory(ModelConfig model, std::vector<RankResources> ranks)
    : model_(std::move(model)), ranks_(std::move(ranks)) {
  ROTOR_CHECK(!ranks_.empty(), "a runner factory with no ranks");
  ops_ = ranks_[0].ops;
  for (const RankResources& r : ranks_) shards_.push_back(r.weights.shard);
}

int64_t RunnerFactory::kv_block_bytes(int block_size) const {
  size_t most = 0;
  for (const ShardSpec& s : shards_)
    most = std::max(most, ModelRunner::kv_block_bytes(model_, s, block_size, ops_->act_dtype()));
  return static_cast<int64_t>(most);
}

std::unique_ptr<StepRunner> RunnerFactory::build(const RunnerOptions& options, int* num_blocks) {
  ROTOR_CHECK(!built_, "the runner factory has built its runners already");
  ROTOR_CHECK(ranks_.size() == 1,
              "tensor parallel {}: serving over several ranks needs a worker thread per rank (issue 16); the "
              "ranks' runners can be built with build_rank_runners",
              ranks_.size());
  std::vector<std::unique_ptr<ModelRunner>> runners = build_rank_runners(model_, std::move(ranks_), options);
  built_ = true;
  *num_blocks = runners[0]->options().num_blocks;
  return std::make_unique<ModelStepRunner>(
      std::move(runners[0]), std::vector<int32_t>(model_.eos_token_ids.begin(), model_.eos_token_ids.end()));
}

}  // namespace rotor
