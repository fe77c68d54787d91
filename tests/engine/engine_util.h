// tests/engine/engine_util.h — the tiny fixture model behind an Engine or a bare ModelRunner,
// for the engine tests: building either, and the reference of a request run alone
// (tests/support/offline_generate, no scheduler).
#pragma once
#include <gtest/gtest.h>

#include "comm/communicator.h"
#include "engine/engine.h"
#include "tests/support/offline_generate.h"
#include "kernels/ops.h"
#include "model/load_model.h"
#include "tests/support/fixture_util.h"

namespace rotor::test {

inline std::filesystem::path tiny_model_dir() { return fixtures_dir() / "tiny-qwen3-moe"; }

class TinyModel : public ::testing::Test {
 protected:
  // One backend and communicator for every suite of the binary, kept to its end (each suite
  // made its own and dropped the last one's: LeakSanitizer's report).
  static void SetUpTestSuite() {
    if (!ops_) ops_ = make_cpu_ops().release();
    if (!comm_) comm_ = make_local_comm().release();
  }
  void SetUp() override {
    if (!std::filesystem::exists(tiny_model_dir() / "config.json")) GTEST_SKIP() << "no " << tiny_model_dir();
  }
  static LoadedModel load() {
    LoadOptions lo;
    lo.model = tiny_model_dir();
    return load_model(lo, *ops_);
  }
  static std::unique_ptr<Engine> engine(const EngineConfig& c) {
    LoadedModel m = load();
    return Engine::create(c, *ops_, *comm_, m.config, std::move(m.weights));
  }
  // A runner for one sequence at a time (references).
  static std::unique_ptr<ModelRunner> single_runner(int max_len) {
    LoadedModel m = load();
    RunnerOptions ro;
    ro.max_num_seqs = 1;
    ro.max_model_len = max_len;
    ro.max_num_tokens = max_len;
    ro.num_blocks = (max_len + ro.block_size - 1) / ro.block_size;
    return std::make_unique<ModelRunner>(*ops_, *comm_, m.config, std::move(m.weights), ro);
  }
  static inline Ops* ops_ = nullptr;
  static inline Communicator* comm_ = nullptr;
};

// The logits after the last token of `context`, from the runner alone.
inline std::vector<float> logits_after(ModelRunner& runner, const std::vector<int32_t>& context) {
  OfflineRequest r;
  r.prompt = context;
  r.params.temperature = 0.0f;
  r.max_tokens = 1;
  r.prompt_logits = true;
  return generate_offline(runner, std::span(&r, 1), 0, {})[0].prompt_logits;
}

}  // namespace rotor::test
