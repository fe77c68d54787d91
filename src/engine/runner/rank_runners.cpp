// engine/runner/rank_runners.cpp — building every rank's runner in phases on the ranks'
// threads and agreeing on the KV cache size.
#include "engine/runner/rank_runners.h"

#include <algorithm>

#include "core/check.h"

namespace rotor {

RankRunners build_rank_runners(const ModelConfig& config, std::vector<RankResources> ranks,
                               const RunnerOptions& options, RankThreads& threads, PrefillLaneResources* lane) {
  const int n = static_cast<int>(ranks.size());
  ROTOR_CHECK(n >= 1 && n == threads.world_size(), "{} ranks to build on {} rank threads", n, threads.world_size());
  ROTOR_CHECK(!lane || (static_cast<int>(lane->ranks.size()) == n && lane->threads &&
                        lane->threads->world_size() == n),
              "a prefill lane of {} ranks beside {}", lane ? lane->ranks.size() : 0, n);
  for (int r = 0; r < n; ++r) {
    ROTOR_CHECK(ranks[r].comm->rank() == r && ranks[r].comm->world_size() == n,
                "rank {} of {} has the communicator of rank {} of {}", r, n, ranks[r].comm->rank(),
                ranks[r].comm->world_size());
    ROTOR_CHECK(!lane || (lane->ranks[r].comm->rank() == r && lane->ranks[r].ops->device() == ranks[r].ops->device()),
                "the prefill lane's rank {} is not beside rank {}", lane->ranks[r].comm->rank(), r);
  }
  // Ranks whose KV caches share one GPU's memory.
  std::vector<int> sharers(n, 0);
  for (int r = 0; r < n; ++r)
    for (int q = 0; q < n; ++q) sharers[r] += ranks[q].ops->device() == ranks[r].ops->device();
  RankRunners out;
  out.decode.resize(n);
  if (lane) out.prefill.resize(n);
  std::vector<int> fit(n);
  try {
    threads.run([&](int r) {
      out.decode[r] = std::make_unique<ModelRunner>(ModelRunner::Unsized{}, *ranks[r].ops, *ranks[r].comm, config,
                                                    std::move(ranks[r].weights), options);
    });
    if (lane)
      lane->threads->run([&](int r) {
        out.prefill[r] = std::make_unique<ModelRunner>(ModelRunner::Unsized{}, *lane->ranks[r].ops,
                                                       *lane->ranks[r].comm, config, out.decode[r]->weights().views(),
                                                       lane->options);
      });
    threads.run([&](int r) { fit[r] = out.decode[r]->kv_blocks_fit(sharers[r]); });
    const int blocks = *std::min_element(fit.begin(), fit.end());
    threads.run([&](int r) { out.decode[r]->allocate_kv_cache(blocks); });
    if (lane) lane->threads->run([&](int r) { out.prefill[r]->share_kv_cache(*out.decode[r]); });
    threads.run([&](int r) { out.decode[r]->warm_up_graphs(); });
    threads.run([&](int r) { out.decode[r]->capture_graphs(); });
  } catch (...) {
    // Every rank's device work ends (the group is aborted), then each frees its own: the
    // prefill lane's runners first (they use the decode runners' KV caches).
    const auto free_all = [](RankThreads& t, std::vector<std::unique_ptr<ModelRunner>>& runners) {
      try {
        t.run([&](int r) {
          if (runners[r]) runners[r]->synchronize();
        });
        t.run([&](int r) { runners[r].reset(); });
      } catch (...) {
      }
    };
    if (lane) free_all(*lane->threads, out.prefill);
    free_all(threads, out.decode);
    throw;
  }
  return out;
}

std::vector<std::unique_ptr<ModelRunner>> build_rank_runners(const ModelConfig& config,
                                                             std::vector<RankResources> ranks,
                                                             const RunnerOptions& options, RankThreads& threads) {
  return build_rank_runners(config, std::move(ranks), options, threads, nullptr).decode;
}

}  // namespace rotor
