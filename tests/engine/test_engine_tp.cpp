// tests/engine/test_engine_tp.cpp — tensor and expert parallelism through the Engine on CPU
// ranks (a RankSet: a thread, a backend and the thread communicator per rank): greedy tokens
// and prompt argmax equal each fixture's reference.json (transformers), with prompts in
// chunks, async scheduling on and off; KV heads split and replicated; a rank's failure fails
// every request with its message instead of hanging; the rank threads' error path.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "engine/engine.h"
#include "engine/runner/rank_set.h"
#include "engine/runner_factory.h"
#include "tests/support/fixture_util.h"
#include "tests/engine/reference_requests.h"
#include "tests/support/reference.h"

namespace rotor {
namespace {
namespace fs = std::filesystem;

// The two smallest worlds a fixture splits into (heads and KV heads divide; each expert's
// intermediate dimension, or the experts with expert parallelism).
std::vector<int> two_worlds(const ModelConfig& c, bool ep) {
  std::vector<int> w;
  for (int n = 2; n <= 8 && w.size() < 2; ++n)
    if (c.num_heads % n == 0 && (c.num_kv_heads % n == 0 || n % c.num_kv_heads == 0) &&
        (ep ? c.num_experts : c.moe_intermediate_size) % n == 0)
      w.push_back(n);
  return w;
}

struct Served {
  std::unique_ptr<RankSet> ranks;
  std::unique_ptr<Engine> engine;
};

Served serve(const fs::path& dir, int world, bool ep, const EngineConfig& cfg) {
  Served s;
  s.ranks = std::make_unique<RankSet>(RankSetOptions{"cpu", world, ep, false});
  LoadOptions lo;
  lo.model = dir;
  RankSet::Loaded m = s.ranks->load(lo);
  RunnerFactory factory(m.config, *s.ranks, std::move(m.weights));
  s.engine = Engine::create(cfg, factory);
  return s;
}

class TensorParallel : public ::testing::TestWithParam<std::string> {};

TEST_P(TensorParallel, GreedyTokensEqualTheReference) {
  const fs::path dir = GetParam();
  const ModelConfig c = ModelConfig::load(dir / "config.json");
  const test::Reference ref = test::read_reference(dir);
  ASSERT_FALSE(ref.greedy[0].empty());
  int checked = 0;
  for (const bool ep : {false, true})
    for (int world : two_worlds(c, ep))
      for (const bool async : {false, true}) {
        const ShardSpec s0 = ShardSpec::make(c, 0, world, ep);
        SCOPED_TRACE(::testing::Message() << dir.filename().string() << " world " << world
                                          << (ep ? " expert parallel" : " tensor parallel")
                                          << (s0.kv_replicas > 1 ? ", KV heads replicated" : ", KV heads split")
                                          << (async ? ", async" : ""));
        EngineConfig cfg;
        cfg.max_model_len = 64;
        cfg.max_num_seqs = 4;
        cfg.max_num_batched_tokens = 12;  // prompts in chunks
        cfg.async_scheduling = async;
        cfg.kv_cache_memory_bytes = 8 << 20;
        Served s = serve(dir, world, ep, cfg);
        test::expect_reference_outputs(*s.engine, ref);
        ++checked;
      }
  EXPECT_GE(checked, 8);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TensorParallel, ::testing::ValuesIn(test::bf16_fixtures()),
                         [](const auto& info) {
                           std::string n = fs::path(info.param).filename().string();
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TensorParallel);

// A rank that fails (here: its group aborted from outside, as the rank threads' error hook
// does) fails every request in flight and every later submit with the rank's message; nothing
// hangs.
TEST(TensorParallelFailure, ARankFailureFailsTheRequestsWithItsMessage) {
  const fs::path dir = test::fixtures_dir() / "tiny-qwen3-moe";
  if (!fs::exists(dir / "config.json")) GTEST_SKIP() << "no " << dir;
  EngineConfig cfg;
  cfg.max_model_len = 512;
  cfg.max_num_seqs = 4;
  cfg.async_scheduling = true;
  cfg.kv_cache_memory_bytes = 64 << 20;
  Served s = serve(dir, 2, false, cfg);
  std::vector<RequestHandle> handles;
  for (int i = 0; i < 4; ++i) {
    EngineRequest r;
    r.prompt_token_ids = {785, 6722, 315, 9625, static_cast<int32_t>(374 + i)};
    r.params.temperature = 0.0f;
    r.params.max_tokens = 400;
    r.params.ignore_eos = true;
    handles.push_back(s.engine->submit(std::move(r)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto t0 = std::chrono::steady_clock::now();
  s.ranks->comm(1).abort("rank 1 of 2: injected failure");
  for (RequestHandle& h : handles) {
    const RequestOutput o = h.wait();
    if (&h == &handles[0]) std::printf("the requests' error: %s\n", o.error.c_str());
    EXPECT_EQ(o.finish_reason, FinishReason::Error);
    EXPECT_NE(o.error.find("injected failure"), std::string::npos) << o.error;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(s.engine->failure(), "rank 1 of 2: injected failure");  // what the server's /health reports
  EngineRequest late;
  late.prompt_token_ids = {1, 2, 3};
  try {
    s.engine->submit(std::move(late));
    ADD_FAILURE() << "a failed engine took a request";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("injected failure"), std::string::npos) << e.what();
  }
}

// run(): a rank that throws while the other waits in a collective wakes it (the error hook
// aborts the group) and run() reports the thrower, named by rank; the threads keep working.
TEST(RankThreads, AFailingRankEndsTheOthersCollective) {
  RankSet ranks(RankSetOptions{"cpu", 3, false, false});
  OwnedTensor t(cpu_allocator(), DType::F32, {3, 4});
  std::atomic<int> ran{0};
  try {
    ranks.threads().run([&](int r) {
      if (r == 2) throw std::runtime_error("cannot map the checkpoint");
      ranks.comm(r).all_reduce_sum(t.tensor);  // rank 2 never comes
    });
    ADD_FAILURE() << "run() returned";
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()), "rank 2 of 3: cannot map the checkpoint");
  }
  ranks.threads().run([&](int) { ++ran; });
  EXPECT_EQ(ran.load(), 3);
}

}  // namespace
}  // namespace rotor
