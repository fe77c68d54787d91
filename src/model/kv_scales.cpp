// model/kv_scales.cpp — reading an FP8 KV cache's per-layer scales from a checkpoint.
#include "model/kv_scales.h"

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <string>

#include "core/bf16.h"
#include "core/check.h"

namespace rotor {
namespace {

std::optional<float> scalar(const Checkpoint& ck, const std::string& name) {
  if (!ck.has(name)) return std::nullopt;
  const Tensor t = ck.get(name);
  ROTOR_CHECK(t.numel() == 1, "checkpoint: KV cache scale '{}' has shape {}; rotor takes one scale per layer "
              "(per-head or per-channel KV scales are not supported)", name, t.shape().str());
  float v = 0.0f;
  switch (t.dtype()) {
    case DType::F32: v = *t.data<float>(); break;
    case DType::BF16: v = bf16_to_f32(*t.data<uint16_t>()); break;
    case DType::F16: v = f16_to_f32(*t.data<uint16_t>()); break;
    default: ROTOR_FAIL("checkpoint: KV cache scale '{}' has dtype {}, expected a float", name, dtype_name(t.dtype()));
  }
  ROTOR_CHECK(std::isfinite(v) && v > 0.0f, "checkpoint: KV cache scale '{}' is {}, expected a positive number", name,
              v);
  return v;
}

// The first of `names` the checkpoint has.
std::optional<float> first_of(const Checkpoint& ck, std::initializer_list<std::string> names) {
  for (const std::string& n : names)
    if (std::optional<float> v = scalar(ck, n)) return v;
  return std::nullopt;
}

}  // namespace

KvScales read_kv_scales(const Checkpoint& ck, int num_layers) {
  KvScales s;
  std::vector<float> k(num_layers, 1.0f), v(num_layers, 1.0f);
  for (int l = 0; l < num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.self_attn.", l);
    std::optional<float> ks = first_of(ck, {p + "k_scale", p + "k_proj.k_scale", p + "k_proj.output_scale"});
    std::optional<float> vs = first_of(ck, {p + "v_scale", p + "v_proj.v_scale", p + "v_proj.output_scale"});
    if (!ks && !vs) ks = vs = scalar(ck, p + "kv_scale");
    if (!ks && !vs) continue;
    ++s.layers_found;
    k[l] = ks ? *ks : *vs;
    v[l] = vs ? *vs : *ks;
  }
  if (s.layers_found > 0) {
    s.k = std::move(k);
    s.v = std::move(v);
  }
  return s;
}

}  // namespace rotor
