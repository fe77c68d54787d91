// tests/engine/test_engine_structured_cuda.cpp — structured outputs through the Engine on the
// GPU (the tiny fixture on CUDA ops): under a regex and a JSON schema grammar (bounded
// languages, so every output ends) the text is in the language and ends on eos; sampled
// tokens are identical with async scheduling on and off and CUDA graphs on and off (a
// constrained step runs eagerly: the bitmask is filled on the host while the forward runs);
// and the runner's part alone (tests/engine/runner_bitmask_check.h). Skipped without a GPU.
// Over several ranks: test_tp_cuda.
#include <gtest/gtest.h>

#include "comm/communicator.h"
#include "engine/engine.h"
#include "kernels/cuda/cuda_ops.h"
#include "model/load_model.h"
#include "tests/support/fixture_util.h"
#include "tests/engine/runner_bitmask_check.h"
#include "tests/engine/structured_requests.h"

namespace rotor {
namespace {

std::vector<RequestOutput> run(Ops& ops, Communicator& comm, bool async, bool graphs) {
  LoadOptions lo;
  lo.model = test::fixtures_dir() / "tiny-qwen3-moe";
  LoadedModel m = load_model(lo, ops);
  EngineConfig c;
  c.max_model_len = 512;
  c.max_num_seqs = 8;
  c.max_num_batched_tokens = 256;
  c.kv_cache_memory_bytes = 64 * (128 << 10);
  c.async_scheduling = async;
  c.cuda_graphs = graphs;
  auto e = Engine::create(c, ops, comm, m.config, std::move(m.weights));
  return test::run_requests(*e, test::structured_requests());
}

TEST(GpuEngineStructured, OutputsAreInTheLanguageAcrossAsyncAndGraphs) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  if (!std::filesystem::exists(test::fixtures_dir() / "tiny-qwen3-moe" / "config.json")) GTEST_SKIP() << "no fixture";
  auto ops = make_cuda_ops(0);
  auto comm = make_local_comm();
  const std::vector<RequestOutput> ref = run(*ops, *comm, false, false);
  test::expect_in_language(ref);
  for (const auto& [async, graphs] : {std::pair{true, false}, std::pair{false, true}, std::pair{true, true}}) {
    const std::vector<RequestOutput> o = run(*ops, *comm, async, graphs);
    for (size_t i = 0; i < ref.size(); ++i)
      EXPECT_EQ(o[i].token_ids, ref[i].token_ids) << "request " << i << " async " << async << " graphs " << graphs;
  }
}

TEST(GpuEngineStructured, RunnerMasksBitmaskRowsAndFillsReadThePreviousStep) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  if (!std::filesystem::exists(test::fixtures_dir() / "tiny-qwen3-moe" / "config.json")) GTEST_SKIP() << "no fixture";
  auto ops = make_cuda_ops(0);
  auto comm = make_local_comm();
  LoadOptions lo;
  lo.model = test::fixtures_dir() / "tiny-qwen3-moe";
  test::check_runner_bitmasks(*ops, *comm, load_model(lo, *ops));
}

}  // namespace
}  // namespace rotor
