// tests/model/test_rope.cpp — RoPE scaling: config.json's rope_scaling / rope_parameters
// parsed as transformers 5 reads them, YaRN frequencies against values worked out by hand for
// Qwen3's long-context setting, and against transformers' own Qwen3MoeRotaryEmbedding
// (tests/fixtures/yarn_rope.json, made by tests/fixtures/gen_yarn_rope.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/config.h"
#include "model/rope.h"
#include "tests/support/fixture_util.h"

namespace rotor {
namespace {

nlohmann::json base_config() {
  return {{"model_type", "qwen3_moe"}, {"vocab_size", 32},         {"hidden_size", 256},
          {"num_hidden_layers", 1},    {"num_attention_heads", 2}, {"num_key_value_heads", 1},
          {"head_dim", 128},           {"num_experts", 4},         {"num_experts_per_tok", 2},
          {"moe_intermediate_size", 8}, {"rope_theta", 1e6},       {"max_position_embeddings", 40960}};
}

nlohmann::json qwen3_yarn() {
  nlohmann::json j = base_config();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  return j;
}

TEST(RopeConfig, YarnParsedAndContextDerivedAsVllm) {
  const ModelConfig c = ModelConfig::from_json(qwen3_yarn());
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_EQ(c.rope_scaling.factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 32768);
  EXPECT_EQ(c.rope_scaling.beta_fast, 32.0);
  EXPECT_EQ(c.rope_scaling.beta_slow, 1.0);
  EXPECT_TRUE(c.rope_scaling.truncate);
  EXPECT_EQ(c.max_context_len(), 131072);  // 32768 x 4, not max_position_embeddings
  EXPECT_EQ(ModelConfig::from_json(base_config()).max_context_len(), 40960);
}

TEST(RopeConfig, LegacyKeysRopeParametersAndDefaults) {
  nlohmann::json j = base_config();
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 2.0}, {"beta_fast", 0}};  // 0 = the default, as `or 32`
  ModelConfig c = ModelConfig::from_json(j);
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 40960);
  EXPECT_EQ(c.rope_scaling.beta_fast, 32.0);
  EXPECT_EQ(c.max_context_len(), 81920);

  j = base_config();
  j.erase("rope_theta");
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 5e5}, {"original_max_position_embeddings", 10240}};
  c = ModelConfig::from_json(j);  // no factor: max_position_embeddings / original
  EXPECT_EQ(c.rope_theta, 5e5);
  EXPECT_EQ(c.rope_scaling.factor, 4.0);

  j = base_config();
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1e6}};
  EXPECT_EQ(ModelConfig::from_json(j).rope_scaling.type, "default");
  j["rope_scaling"] = nullptr;
  EXPECT_EQ(ModelConfig::from_json(j).rope_scaling.type, "default");
}

TEST(RopeConfig, OtherScalingRejectedClearly) {
  for (const char* type : {"linear", "dynamic", "longrope", "llama3"}) {
    nlohmann::json j = base_config();
    j["rope_scaling"] = {{"rope_type", type}, {"factor", 2.0}};
    try {
      ModelConfig::from_json(j);
      ADD_FAILURE() << type << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(type), std::string::npos) << e.what();
    }
  }
  nlohmann::json j = qwen3_yarn();
  j["rope_scaling"]["factor"] = -1.0;
  EXPECT_THROW(ModelConfig::from_json(j), Error);
}

// Qwen3 (head_dim 128, theta 1e6, factor 4 over 32768): the correction range is
// dims [floor(23.60), ceil(39.65)] = [23, 40]; below it frequencies stay, above it they are
// divided by 4, between they blend linearly; cos and sin carry 0.1 ln 4 + 1.
TEST(Rope, YarnQwen3ByHand) {
  const ModelConfig c = ModelConfig::from_json(qwen3_yarn());
  const RopeFrequencies f = rope_frequencies(128, 1e6, c.rope_scaling);
  ASSERT_EQ(f.inv_freq.size(), 64u);
  EXPECT_NEAR(f.attention_factor, 1.1386294361119891, 1e-15);
  for (int i = 0; i < 64; ++i) {
    const double plain = std::pow(1e6, -2.0 * i / 128);
    const double ramp = std::clamp((i - 23.0) / 17.0, 0.0, 1.0);
    EXPECT_NEAR(f.inv_freq[i], plain * (1 - ramp) + plain / 4 * ramp, 1e-15 * plain) << i;
  }
  EXPECT_DOUBLE_EQ(f.inv_freq[23], std::pow(1e6, -46.0 / 128));
  EXPECT_NEAR(f.inv_freq[40], std::pow(1e6, -80.0 / 128) / 4, 1e-18);

  const std::vector<float> t = rope_table(3, 128, 1e6, c.rope_scaling);
  EXPECT_FLOAT_EQ(t[0], 1.1386294f);                          // position 0: cos = factor
  EXPECT_FLOAT_EQ(t[64], 0.0f);                               //             sin = 0
  EXPECT_FLOAT_EQ(t[2 * 128 + 63], static_cast<float>(1.1386294361119891 * std::cos(2 * f.inv_freq[63])));
  EXPECT_FLOAT_EQ(t[2 * 128 + 64 + 5], static_cast<float>(1.1386294361119891 * std::sin(2 * f.inv_freq[5])));
}

TEST(Rope, DefaultTableIsPlainRope) {
  const RopeFrequencies f = rope_frequencies(64, 1e4);
  EXPECT_EQ(f.attention_factor, 1.0);
  const std::vector<float> t = rope_table(10, 64, 1e4);
  for (int p = 0; p < 10; ++p)
    for (int i = 0; i < 32; ++i) {
      const double a = p / std::pow(1e4, 2.0 * i / 64);
      EXPECT_EQ(t[p * 64 + i], static_cast<float>(std::cos(a)));
      EXPECT_EQ(t[p * 64 + 32 + i], static_cast<float>(std::sin(a)));
    }
}

// transformers computes in float32 (inv_freq, then position x inv_freq): the tolerance grows
// with the angle's size.
TEST(Rope, YarnMatchesTransformers) {
  const auto path = test::repo_fixtures_dir() / "yarn_rope.json";
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << path.string() << " is not made yet: run tests/fixtures/gen_yarn_rope.py (torch + transformers)";
  std::ifstream in(path);
  const nlohmann::json ref = nlohmann::json::parse(in);
  const std::vector<int> positions = ref["positions"].get<std::vector<int>>();
  ASSERT_FALSE(ref["cases"].empty());
  for (const auto& [name, c] : ref["cases"].items()) {
    SCOPED_TRACE(name);
    nlohmann::json cfg = c["config"];
    cfg["model_type"] = "qwen3_moe";
    const ModelConfig mc = ModelConfig::from_json(cfg);
    ASSERT_EQ(mc.rope_scaling.type, "yarn");
    const int hd = mc.head_dim;
    const RopeFrequencies f = rope_frequencies(hd, mc.rope_theta, mc.rope_scaling);
    EXPECT_NEAR(f.attention_factor, c["attention_scaling"].get<double>(), 1e-7);
    const std::vector<double> inv = c["inv_freq"].get<std::vector<double>>();
    ASSERT_EQ(inv.size(), f.inv_freq.size());
    for (size_t i = 0; i < inv.size(); ++i) EXPECT_NEAR(f.inv_freq[i], inv[i], 1e-6 * inv[i]) << "pair " << i;
    const int max_pos = *std::max_element(positions.begin(), positions.end()) + 1;
    const std::vector<float> t = rope_table(max_pos, hd, mc.rope_theta, mc.rope_scaling);
    for (size_t k = 0; k < positions.size(); ++k) {
      const int p = positions[k];
      const double tol = 2e-6 + 3e-7 * p;
      for (int i = 0; i < hd / 2; ++i) {
        EXPECT_NEAR(t[static_cast<size_t>(p) * hd + i], c["cos"][k][i].get<double>(), tol) << "cos p " << p << " i " << i;
        EXPECT_NEAR(t[static_cast<size_t>(p) * hd + hd / 2 + i], c["sin"][k][i].get<double>(), tol)
            << "sin p " << p << " i " << i;
      }
    }
  }
}

}  // namespace
}  // namespace rotor
