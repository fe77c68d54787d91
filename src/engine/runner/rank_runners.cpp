// engine/runner/rank_runners.cpp — building every rank's runner in phases on the ranks'
// threads and agreeing on the KV cache size.
#include "engine/runner/rank_runners.h"

#include <algorithm>

#include "core/check.h"

namespace rotor {

std::vector<std::unique_ptr<ModelRunner>> build_rank_runners(const ModelConfig& config,
                                                             std::vector<RankResources> ranks,
                                                             const RunnerOptions& options, RankThreads& threads) {
  const int n = static_cast<int>(ranks.size());
  ROTOR_CHECK(n >= 1 && n == threads.world_size(), "{} ranks to build on {} rank threads", n, threads.world_size());
  for (int r = 0; r < n; ++r)
    ROTOR_CHECK(ranks[r].comm->rank() == r && ranks[r].comm->world_size() == n,
                "rank {} of {} has the communicator of rank {} of {}", r, n, ranks[r].comm->rank(),
                ranks[r].comm->world_size());
  // Ranks whose KV caches share one GPU's memory.
  std::vector<int> sharers(n, 0);
  for (int r = 0; r < n; ++r)
    for (int q = 0; q < n; ++q) sharers[r] += ranks[q].ops->device() == ranks[r].ops->device();
  std::vector<std::unique_ptr<ModelRunner>> runners(n);
  std::vector<int> fit(n);
  try {
    threads.run([&](int r) {
      runners[r] = std::make_unique<ModelRunner>(ModelRunner::Unsized{}, *ranks[r].ops, *ranks[r].comm, config,
                                                 std::move(ranks[r].weights), options);
    });
    threads.run([&](int r) { fit[r] = runners[r]->kv_blocks_fit(sharers[r]); });
    const int blocks = *std::min_element(fit.begin(), fit.end());
    threads.run([&](int r) { runners[r]->allocate_kv_cache(blocks); });
    threads.run([&](int r) { runners[r]->warm_up_graphs(); });
    threads.run([&](int r) { runners[r]->capture_graphs(); });
  } catch (...) {
    // Every rank's device work ends (the group is aborted), then each frees its own.
    try {
      threads.run([&](int r) {
        if (runners[r]) runners[r]->synchronize();
      });
      threads.run([&](int r) { runners[r].reset(); });
    } catch (...) {
    }
    throw;
  }
  return runners;
}

}  // namespace rotor
