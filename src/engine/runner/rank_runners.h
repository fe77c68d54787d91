// engine/runner/rank_runners.h — the ModelRunners of every tensor-parallel rank, built at once
// on the ranks' threads (so the collectives of the warm-up step meet): each rank places its
// buffers, then every rank measures the KV blocks its memory allows (ranks on one GPU split
// it), then all of them allocate the least of those, run the warm-up decode step, and capture
// their decode graphs.
#pragma once
#include <memory>
#include <vector>

#include "engine/runner/model_runner.h"
#include "engine/runner/rank_threads.h"

namespace rotor {

// One rank's backend, communicator (rank() = its index) and weights (of ShardSpec rank).
struct RankResources {
  Ops* ops = nullptr;
  Communicator* comm = nullptr;
  ModelWeights weights;
};

// Runner r of ranks[r], built on rank r's thread of `threads`; every KV cache has the same
// number of blocks (options().num_blocks). Each phase ends on every rank before the next
// starts, so no rank allocates while another runs a collective. Throws the first rank's error.
std::vector<std::unique_ptr<ModelRunner>> build_rank_runners(const ModelConfig& config,
                                                             std::vector<RankResources> ranks,
                                                             const RunnerOptions& options, RankThreads& threads);

}  // namespace rotor
