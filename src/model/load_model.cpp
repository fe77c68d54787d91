// model/load_model.cpp — choosing the weight source and placing the weights on the device (on a
// GPU, unless ROTOR_STACK_QKV=0, each layer's q/k/v stacked into one weight: model/stack_qkv.h).
#include "model/load_model.h"
#include "core/check.h"

#include "core/log.h"
#include "core/progress.h"
#include "model/quant_description.h"
#include "model/safetensors.h"
#include "model/stack_qkv.h"

namespace rotor {
namespace fs = std::filesystem;

LoadedModel load_model_config(const LoadOptions& o) {
  ROTOR_CHECK(o.load_format == "auto" || o.load_format == "safetensors" || o.load_format == "dummy",
              "--load-format must be auto, safetensors or dummy (got '{}')", o.load_format);
  const fs::path config_path = fs::is_directory(o.model) ? o.model / "config.json" : o.model;
  ROTOR_CHECK(fs::exists(config_path), "no config.json at {}", config_path.string());
  ROTOR_CHECK(o.load_format == "dummy" || fs::is_directory(o.model),
              "{} is not a model directory (a bare config.json needs --load-format dummy)", o.model.string());
  ROTOR_CHECK(o.quantization == "auto" || o.quantization == "ascend" || o.quantization == "w8a8",
              "--quantization must be ascend or w8a8 (got '{}')", o.quantization);
  const bool want_quant = o.quantization != "auto";
  ROTOR_CHECK(!want_quant || o.load_format == "dummy" || QuantDescription::present(o.model),
              "--quantization {}: {} holds no {} (not a W8A8 checkpoint)", o.quantization, o.model.string(),
              QuantDescription::kFileName);
  LoadedModel m;
  m.config = ModelConfig::load(config_path, o.hf_overrides);
  m.full_parameter_count = m.config.parameter_count();
  ROTOR_CHECK(o.num_layers >= 0, "--num-layers must be positive");
  m.full_layers = m.config.num_layers;
  if (o.num_layers > 0 && o.num_layers < m.config.num_layers) m.config.num_layers = o.num_layers;
  return m;
}

LoadedModel load_model(const LoadOptions& o, Ops& ops) {
  LoadedModel m = load_model_config(o);
  const bool want_quant = o.quantization != "auto";
  if (o.rank == 0)
    ROTOR_LOG_INFO("model: {} layers of {}, hidden {}, {} experts (top {}), {:.2f}B parameters in the full model",
                   m.config.num_layers, m.full_layers, m.config.hidden_size, m.config.num_experts,
                   m.config.num_experts_per_tok, m.full_parameter_count / 1e9);
  const ShardSpec shard = ShardSpec::make(m.config, o.rank, o.world_size, o.expert_parallel);
  const bool cpu = ops.device().is_cpu();
  if (shard.sharded()) ROTOR_LOG_INFO("shard: {}", shard.str());
  if (o.load_format == "dummy") {
    const bool w8a8 = want_quant || (fs::is_directory(o.model) && QuantDescription::present(o.model));
    m.weights = dummy_weights(m.config, o.seed, ops, shard, w8a8);
    ROTOR_LOG_INFO("weights: dummy, {}", w8a8 ? "w8a8" : "bf16");
  } else {
    ModelWeights host = load_weights(m.config, o.model, shard);
    ROTOR_LOG_INFO("weights: {}, {} in {} safetensors file(s){}",
                   host.quantization.empty() ? "float" : host.quantization,
                   ProgressMeter::bytes_str(host.checkpoint->total_bytes()), host.checkpoint->num_files(),
                   cpu ? ", memory-mapped (the CPU reads each page on first use)" : "");
    if (!host.k_scale.empty() && o.rank == 0)
      ROTOR_LOG_INFO("checkpoint: per-layer KV cache scales (an FP8 KV cache uses them)");
    if (!cpu)
      m.weights = upload_weights(m.config, host, ops.allocator());
    else
      m.weights = shard.sharded() ? pack_weights(m.config, std::move(host)) : std::move(host);
  }
  if (!cpu && stack_qkv_enabled()) {
    const int stacked = stack_qkv(m.weights, ops.allocator());
    if (o.rank == 0) ROTOR_LOG_INFO("q/k/v stacked into one weight in {} of {} layers", stacked, m.config.num_layers);
  }
  return m;
}

}  // namespace rotor
