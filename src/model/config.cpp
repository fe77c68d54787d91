// model/config.cpp — parsing and validation of config.json.
#include "model/config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "model/architecture.h"

namespace rotor {
namespace {

template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    ROTOR_FAIL("config.json: field '{}' has the wrong type ({})", key, it->dump());
  }
}

template <typename T>
T require(const nlohmann::json& j, const char* key) {
  ROTOR_CHECK(j.contains(key) && !j[key].is_null(), "config.json: required field '{}' is missing", key);
  return get_or<T>(j, key, T{});
}

// transformers 5 reads `rope_scaling` when set (older configs, --hf-overrides) and else
// `rope_parameters`; both hold {"rope_type" (or "type"), "factor", ...}.
RopeScaling parse_rope_scaling(const nlohmann::json& j, int max_position_embeddings) {
  RopeScaling s;
  const nlohmann::json* d = nullptr;
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null() || (it->is_object() && it->empty())) continue;
    ROTOR_CHECK(it->is_object(), "config.json: {} must be an object (got {})", key, it->dump());
    d = &*it;
    break;
  }
  if (!d) return s;
  s.type = get_or<std::string>(*d, "rope_type", get_or<std::string>(*d, "type", "default"));
  if (s.type == "default") return s;
  ROTOR_CHECK(s.type == "yarn", "config.json: RoPE scaling of type '{}' is not supported (default and yarn are)",
              s.type);
  // A top-level original_max_position_embeddings wins over the dict's (transformers 5).
  s.original_max_position_embeddings =
      get_or<int>(j, "original_max_position_embeddings",
                  get_or<int>(*d, "original_max_position_embeddings", max_position_embeddings));
  ROTOR_CHECK(s.original_max_position_embeddings > 0, "config.json: yarn original_max_position_embeddings must be "
              "positive (got {})", s.original_max_position_embeddings);
  s.factor = get_or<double>(*d, "factor", static_cast<double>(max_position_embeddings) /
                                              s.original_max_position_embeddings);
  ROTOR_CHECK(s.factor > 0.0, "config.json: yarn factor must be positive (got {})", s.factor);
  // transformers: `get("beta_fast") or 32`, so 0 also means the default.
  if (const double v = get_or<double>(*d, "beta_fast", 0.0); v != 0.0) s.beta_fast = v;
  if (const double v = get_or<double>(*d, "beta_slow", 0.0); v != 0.0) s.beta_slow = v;
  s.attention_factor = get_or<double>(*d, "attention_factor", 0.0);
  ROTOR_CHECK(s.attention_factor >= 0.0, "config.json: yarn attention_factor must be positive (got {})",
              s.attention_factor);
  s.mscale = get_or<double>(*d, "mscale", 0.0);
  s.mscale_all_dim = get_or<double>(*d, "mscale_all_dim", 0.0);
  s.truncate = get_or<bool>(*d, "truncate", true);
  return s;
}

}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ROTOR_CHECK(j.is_object(), "config.json: not a JSON object");
  ModelConfig c;
  c.model_type = get_or<std::string>(j, "model_type", "");
  find_architecture(c.model_type);  // throws for a model_type rotor has no architecture for
  c.vocab_size = require<int>(j, "vocab_size");
  c.hidden_size = require<int>(j, "hidden_size");
  c.num_layers = require<int>(j, "num_hidden_layers");
  c.num_heads = require<int>(j, "num_attention_heads");
  c.num_kv_heads = get_or<int>(j, "num_key_value_heads", c.num_heads);
  c.head_dim = get_or<int>(j, "head_dim", c.num_heads ? c.hidden_size / c.num_heads : 0);
  c.num_experts = require<int>(j, "num_experts");
  c.num_experts_per_tok = require<int>(j, "num_experts_per_tok");
  c.moe_intermediate_size = require<int>(j, "moe_intermediate_size");
  c.norm_topk_prob = get_or<bool>(j, "norm_topk_prob", false);
  c.tie_word_embeddings = get_or<bool>(j, "tie_word_embeddings", false);
  c.rms_norm_eps = static_cast<float>(get_or<double>(j, "rms_norm_eps", 1e-6));
  c.max_position_embeddings = get_or<int>(j, "max_position_embeddings", 32768);
  c.bos_token_id = get_or<int>(j, "bos_token_id", -1);
  if (j.contains("eos_token_id") && j["eos_token_id"].is_array())
    c.eos_token_ids = j["eos_token_id"].get<std::vector<int>>();
  else if (int eos = get_or<int>(j, "eos_token_id", -1); eos >= 0)
    c.eos_token_ids = {eos};

  c.rope_theta = get_or<double>(j, "rope_theta", 10000.0);
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object())
    c.rope_theta = get_or<double>(j["rope_parameters"], "rope_theta", c.rope_theta);
  c.rope_scaling = parse_rope_scaling(j, c.max_position_embeddings);

  const std::string dt = get_or<std::string>(j, "torch_dtype", get_or<std::string>(j, "dtype", "bfloat16"));
  if (dt == "bfloat16") c.dtype = DType::BF16;
  else if (dt == "float16") c.dtype = DType::F16;
  else if (dt == "float32") c.dtype = DType::F32;
  else ROTOR_FAIL("config.json: torch_dtype '{}' is not supported", dt);

  ROTOR_CHECK(get_or<std::string>(j, "hidden_act", "silu") == "silu", "config.json: only hidden_act 'silu' is supported");
  ROTOR_CHECK(!get_or<bool>(j, "attention_bias", false), "config.json: attention_bias=true is not supported");
  ROTOR_CHECK(!get_or<bool>(j, "use_sliding_window", false), "config.json: sliding-window attention is not supported");
  const int sparse_step = get_or<int>(j, "decoder_sparse_step", 1);
  ROTOR_CHECK(sparse_step == 1,
              "config.json: decoder_sparse_step={} asks for dense MLP layers, which rotor does not support yet",
              sparse_step);
  if (j.contains("mlp_only_layers") && j["mlp_only_layers"].is_array())
    ROTOR_CHECK(j["mlp_only_layers"].empty(),
                "config.json: mlp_only_layers={} asks for dense MLP layers, which rotor does not support yet",
                j["mlp_only_layers"].dump());

  ROTOR_CHECK(c.vocab_size > 0 && c.hidden_size > 0 && c.num_layers > 0 && c.num_heads > 0 && c.num_kv_heads > 0 &&
                  c.head_dim > 0 && c.num_experts > 0 && c.moe_intermediate_size > 0,
              "config.json: sizes must be positive");
  ROTOR_CHECK(c.num_heads % c.num_kv_heads == 0, "config.json: num_attention_heads {} is not a multiple of "
              "num_key_value_heads {}", c.num_heads, c.num_kv_heads);
  ROTOR_CHECK(c.head_dim % 2 == 0, "config.json: head_dim {} must be even for RoPE", c.head_dim);
  ROTOR_CHECK(c.num_experts_per_tok > 0 && c.num_experts_per_tok <= c.num_experts,
              "config.json: num_experts_per_tok {} outside [1, num_experts={}]", c.num_experts_per_tok, c.num_experts);
  return c;
}

namespace {

void merge_into(nlohmann::json& dst, const nlohmann::json& src) {
  for (const auto& [key, value] : src.items()) {
    if (value.is_object() && dst.contains(key) && dst[key].is_object())
      merge_into(dst[key], value);
    else
      dst[key] = value;
  }
}

}  // namespace

ModelConfig ModelConfig::load(const std::filesystem::path& path) { return load(path, ""); }

ModelConfig ModelConfig::load(const std::filesystem::path& path, const std::string& overrides) {
  std::ifstream f(path);
  ROTOR_CHECK(f.good(), "cannot open {}", path.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    ROTOR_FAIL("{}: not valid JSON ({})", path.string(), e.what());
  }
  if (!overrides.empty()) {
    const auto o = nlohmann::json::parse(overrides, nullptr, false);
    ROTOR_CHECK(o.is_object(), "--hf-overrides must be a JSON object (got {})", overrides);
    merge_into(j, o);
  }
  return from_json(j);
}

int ModelConfig::max_context_len() const {
  if (rope_scaling.type != "yarn") return max_position_embeddings;
  return static_cast<int>(rope_scaling.original_max_position_embeddings * rope_scaling.factor);
}

int64_t ModelConfig::parameter_count() const {
  const int64_t H = hidden_size, V = vocab_size, hd = head_dim;
  const int64_t attn = H * (num_heads * hd) * 2 + H * (num_kv_heads * hd) * 2 + 2 * hd;
  const int64_t moe = static_cast<int64_t>(num_experts) * 3 * H * moe_intermediate_size + num_experts * H;
  const int64_t layer = attn + moe + 2 * H;
  return V * H * (tie_word_embeddings ? 1 : 2) + H + num_layers * layer;
}

}  // namespace rotor
