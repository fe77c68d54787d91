// tests/engine/test_engine_structured.cpp — structured outputs through the Engine on the tiny
// model: requests under a regex or a JSON schema grammar (bounded languages, so every output
// must end) decode to text in the language, end on eos when the grammar completes, sampled
// tokens are the same with async scheduling on and off, and unconstrained requests in the
// same batch are unaffected; and the runner's part alone (tests/engine/runner_bitmask_check.h).
// Tensor and expert parallel: test_engine_structured_tp.cpp.
#include <gtest/gtest.h>

#include "tests/engine/engine_util.h"
#include "tests/engine/runner_bitmask_check.h"
#include "tests/engine/structured_requests.h"

namespace rotor {
namespace {

class EngineStructured : public test::TinyModel {
 protected:
  // Outputs of test::structured_requests().
  static std::vector<RequestOutput> run(bool async) {
    EngineConfig c;
    c.max_model_len = 512;
    c.max_num_seqs = 8;
    c.max_num_batched_tokens = 256;
    c.kv_cache_memory_bytes = 64 * (128 << 10);
    c.async_scheduling = async;
    auto e = engine(c);
    return test::run_requests(*e, test::structured_requests());
  }
};

TEST_F(EngineStructured, OutputsAreInTheLanguageSyncAndAsync) {
  const std::vector<RequestOutput> sync = run(false), async = run(true);
  test::expect_in_language(sync);
  for (size_t i = 0; i < sync.size(); ++i) EXPECT_EQ(sync[i].token_ids, async[i].token_ids) << "request " << i;
}

TEST_F(EngineStructured, RunnerMasksBitmaskRowsAndFillsReadThePreviousStep) {
  test::check_runner_bitmasks(*ops_, *comm_, load());
}

}  // namespace
}  // namespace rotor
