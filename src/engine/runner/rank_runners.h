// engine/runner/rank_runners.h — the ModelRunners of every tensor-parallel rank, built at once:
// a thread per rank (so the collectives of graph capture meet), each rank first measuring the
// KV blocks its memory allows, then all of them allocating the least of those.
#pragma once
#include <memory>
#include <vector>

#include "engine/runner/model_runner.h"

namespace rotor {

// One rank's backend, communicator (rank() = its index) and weights (of ShardSpec rank).
struct RankResources {
  Ops* ops = nullptr;
  Communicator* comm = nullptr;
  ModelWeights weights;
};

// Runner r of ranks[r]; every KV cache has the same number of blocks (options().num_blocks).
// An error on any rank is rethrown once every rank's thread has ended.
std::vector<std::unique_ptr<ModelRunner>> build_rank_runners(const ModelConfig& config,
                                                             std::vector<RankResources> ranks,
                                                             const RunnerOptions& options);

}  // namespace rotor
