// tests/model/test_stack_qkv.cpp — q/k/v stacked into one weight (model/stack_qkv.h) on the CPU:
// on every fixture (bf16 and W8A8) the model gives the same logits and greedy tokens with one
// QKV GEMM as with three, the parts become views of the stack and the stack takes the parts'
// place in memory (dummy weights, owned buffers); layers whose parts differ are left alone; the
// ROTOR_STACK_QKV switch (on unless 0) that load_model reads on a GPU.
#include <gtest/gtest.h>

#include <cstdlib>

#include "kernels/backend.h"
#include "model/stack_qkv.h"
#include "tests/support/fixture_util.h"
#include "tests/support/reference.h"

namespace rotor {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> all_fixtures() {
  std::vector<std::string> out = test::bf16_fixtures();
  for (const std::string& d : test::w8a8_fixture_dirs()) out.push_back(d);
  return out;
}

size_t owned_bytes(const ModelWeights& w) {
  size_t n = 0;
  for (const Buffer& b : w.owned) n += b.size();
  return n;
}

// Greedy outputs and every prompt's argmax and last logits, with or without stacking.
std::vector<OfflineResult> run(Ops& ops, const fs::path& dir, const std::vector<std::vector<int32_t>>& prompts,
                               bool stack, int* stacked = nullptr) {
  auto comm = make_local_comm();
  LoadOptions lo;
  lo.model = dir;
  LoadedModel m = load_model(lo, ops);
  if (stack) {
    const int n = stack_qkv(m.weights, ops.allocator());
    if (stacked) *stacked = n;
    for (const LayerWeights& L : m.weights.layers) {
      EXPECT_TRUE(L.qkv_fused.weight.defined());
      int64_t row = 0;
      for (const LinearWeight& p : L.qkv) {  // views of the stack's consecutive rows
        EXPECT_EQ(p.weight.data(), L.qkv_fused.weight.rows(row, row + 1).data());
        row += p.out_features();
      }
      EXPECT_EQ(row, L.qkv_fused.out_features());
    }
  }
  const std::vector<OfflineRequest> reqs = test::greedy_prompt_requests(prompts, 4);
  ModelRunner runner(ops, *comm, m.config, std::move(m.weights), offline_runner_options(reqs));
  return generate_offline(runner, reqs, 0, m.config.eos_token_ids);
}

class StackQkv : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Ops> ops = make_cpu_ops();
};

TEST_P(StackQkv, SameOutputsAsThreeGemms) {
  const fs::path dir = GetParam();
  const test::Reference ref = test::read_reference(dir);
  const ModelConfig c = ModelConfig::load(dir / "config.json");
  const auto prompts = test::with_random_prompts(ref.ids, c.vocab_size, 5);
  const auto three = run(*ops, dir, prompts, false);
  int stacked = 0;
  const auto one = run(*ops, dir, prompts, true, &stacked);
  EXPECT_EQ(stacked, c.num_layers);
  ASSERT_EQ(one.size(), three.size());
  for (size_t i = 0; i < one.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "prompt " << i);
    EXPECT_LT(test::rel_err(three[i].prompt_logits, one[i].prompt_logits), 1e-6);
    EXPECT_EQ(one[i].prompt_argmax, three[i].prompt_argmax);
    EXPECT_EQ(one[i].output, three[i].output);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, StackQkv, ::testing::ValuesIn(all_fixtures()),
                         [](const auto& i) { return test::fixture_name(i.param); });

// Dummy weights live in owned buffers: the stack replaces the parts' buffers byte for byte.
TEST(StackQkvMemory, StackTakesThePartsPlace) {
  const fs::path cfg = test::fixtures_dir() / "tiny-qwen3-moe" / "config.json";
  const ModelConfig c = ModelConfig::load(cfg);
  auto ops = make_cpu_ops();
  for (bool w8a8 : {false, true}) {
    SCOPED_TRACE(w8a8 ? "w8a8" : "bf16");
    ModelWeights w = dummy_weights(c, 3, *ops, ShardSpec::make(c, 0, 1, false), w8a8);
    const size_t bytes = owned_bytes(w), buffers = w.owned.size();
    EXPECT_EQ(stack_qkv(w, ops->allocator()), c.num_layers);
    EXPECT_EQ(owned_bytes(w), bytes);
    // Per layer: 3 weights (and, W8A8, 3 deq_scales) freed, 1 (and 1) made.
    EXPECT_EQ(w.owned.size(), buffers - static_cast<size_t>(c.num_layers) * (w8a8 ? 4 : 2));
    EXPECT_EQ(stack_qkv(w, ops->allocator()), 0);  // already stacked
  }
}

// W8A8Static parts with different input scales cannot share one quantised input: not stacked.
TEST(StackQkvMemory, UnlikePartsStayApart) {
  const fs::path cfg = test::fixtures_dir() / "tiny-qwen3-moe" / "config.json";
  const ModelConfig c = ModelConfig::load(cfg);
  auto ops = make_cpu_ops();
  ModelWeights w = dummy_weights(c, 3, *ops, ShardSpec::make(c, 0, 1, false), true);
  ASSERT_EQ(w.layers[0].qkv[1].kind, QuantKind::W8A8Static);
  w.layers[0].qkv[1].input_scale *= 2.0f;
  EXPECT_EQ(stack_qkv(w, ops->allocator()), c.num_layers - 1);
  EXPECT_FALSE(w.layers[0].qkv_fused.weight.defined());
  EXPECT_TRUE(w.layers[1].qkv_fused.weight.defined());
}

// ROTOR_STACK_QKV: unset or 1 on, 0 off, anything else a one-line error naming the variable.
TEST(StackQkvMemory, EnvironmentSwitch) {
  unsetenv("ROTOR_STACK_QKV");
  EXPECT_TRUE(stack_qkv_enabled());
  setenv("ROTOR_STACK_QKV", "1", 1);
  EXPECT_TRUE(stack_qkv_enabled());
  setenv("ROTOR_STACK_QKV", "0", 1);
  EXPECT_FALSE(stack_qkv_enabled());
  setenv("ROTOR_STACK_QKV", "yes", 1);
  try {
    stack_qkv_enabled();
    ADD_FAILURE() << "ROTOR_STACK_QKV=yes accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("ROTOR_STACK_QKV=yes: expected 0 or 1"), std::string::npos) << e.what();
  }
  unsetenv("ROTOR_STACK_QKV");
}

}  // namespace
}  // namespace rotor
