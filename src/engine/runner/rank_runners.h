// engine/runner/rank_runners.h — the ModelRunners of every tensor-parallel rank, built at once
// on the ranks' threads (so the collectives of the warm-up step meet): each rank places its
// buffers, then every rank measures the KV blocks its memory allows (ranks on one GPU split
// it), then all of them allocate the least of those, run the warm-up decode step, and capture
// their decode graphs. With a prefill lane (docs/prefill-lane.md) each rank also gets a second
// runner on its GPU's next lane, placed before the KV cache is sized, taking views of the
// rank's weights and sharing its KV cache.
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

// The prefill lane beside the ranks: rank r's backend and communicator on the lane (their
// weights are not used: the lane's runners take views of the decode runners'), the lane's
// threads (one per rank, as the ranks'), and the options of the lane's runners.
struct PrefillLaneResources {
  std::vector<RankResources> ranks;
  RankThreads* threads = nullptr;
  RunnerOptions options;
};

struct RankRunners {
  std::vector<std::unique_ptr<ModelRunner>> decode;   // by rank
  std::vector<std::unique_ptr<ModelRunner>> prefill;  // with a lane: rank r's, beside decode[r]
};

// As the one below, and with `lane` each rank's prefill runner too (the lane's are freed first when
// building fails).
RankRunners build_rank_runners(const ModelConfig& config, std::vector<RankResources> ranks,
                               const RunnerOptions& options, RankThreads& threads, PrefillLaneResources* lane);

// Runner r of ranks[r], built on rank r's thread of `threads`; every KV cache has the same
// number of blocks (options().num_blocks). Each phase ends on every rank before the next
// starts, so no rank allocates while another runs a collective. Throws the first rank's error.
std::vector<std::unique_ptr<ModelRunner>> build_rank_runners(const ModelConfig& config,
                                                             std::vector<RankResources> ranks,
                                                             const RunnerOptions& options, RankThreads& threads);

}  // namespace rotor
