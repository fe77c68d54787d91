// tests/engine/test_engine_structured_tp.cpp — structured outputs through the Engine over CPU
// ranks (a RankSet: a thread, a backend and the thread communicator per rank) on the tiny
// model: with tensor parallelism over 2 ranks (async scheduling on and off) and expert
// parallelism over 2, the outputs of the structured requests equal one rank's token for token
// (the ranks sample alike, which the step runner checks at every step), are in their language,
// and each request's constraint is fed one token and asked for one bitmask per step, from one
// thread at a time, however many ranks sample.
#include <gtest/gtest.h>

#include "engine/runner/rank_set.h"
#include "engine/runner_factory.h"
#include "tests/engine/engine_util.h"
#include "tests/engine/structured_requests.h"

namespace rotor {
namespace {

struct Outputs {
  std::vector<RequestOutput> out;
  std::vector<std::shared_ptr<test::CheckedConstraint>> checked;
};

Outputs run(int world, bool ep, bool async) {
  RankSet ranks(RankSetOptions{"cpu", world, ep, false});
  LoadOptions lo;
  lo.model = test::tiny_model_dir();
  RankSet::Loaded m = ranks.load(lo);
  RunnerFactory factory(m.config, ranks, std::move(m.weights));
  EngineConfig c;
  c.max_model_len = 512;
  c.max_num_seqs = 8;
  c.max_num_batched_tokens = 256;
  c.kv_cache_memory_bytes = int64_t{32} << 20;  // every request at once: no preemption
  c.async_scheduling = async;
  std::unique_ptr<Engine> engine = Engine::create(c, factory);
  Outputs r;
  r.out = test::run_requests(*engine, test::structured_requests(&r.checked));
  return r;
}

class EngineStructuredTp : public test::TinyModel {};

TEST_F(EngineStructuredTp, RanksGiveOneRanksOutputsAndAdvanceEachConstraintOncePerStep) {
  const Outputs one = run(1, false, false);
  test::expect_in_language(one.out);
  test::expect_driven_once_per_step(one.checked, one.out);
  for (const auto& [world, ep, async] : {std::tuple{2, false, false}, std::tuple{2, false, true},
                                         std::tuple{2, true, true}}) {
    SCOPED_TRACE(::testing::Message() << "world " << world << (ep ? " expert" : " tensor") << " parallel"
                                      << (async ? ", async" : ""));
    const Outputs r = run(world, ep, async);
    test::expect_in_language(r.out);
    test::expect_driven_once_per_step(r.checked, r.out);
    for (size_t i = 0; i < one.out.size(); ++i) EXPECT_EQ(r.out[i].token_ids, one.out[i].token_ids) << "request " << i;
  }
}

}  // namespace
}  // namespace rotor
