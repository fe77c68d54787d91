// model/w8a8_loader.cpp — W8A8 checkpoints (msmodelslim / vllm-ascend format, W8A8.md): the
// description decides each linear layer's kind; scales of every dtype variant are brought to
// f32 (zero-copy when they already are); every tensor the description names must exist.
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/bf16.h"
#include "core/check.h"
#include "core/log.h"
#include "model/loader.h"
#include "model/quant_description.h"

namespace rotor {
namespace {

bool is_float(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16; }

// Element i of a scale tensor as f32: float dtypes by value, I64 as an fp32 bit pattern in the
// low 32 bits (msmodelslim's deq_scale of fp16 models).
float scale_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::F32: {
      float v;
      std::memcpy(&v, static_cast<const char*>(t.data()) + 4 * i, 4);
      return v;
    }
    case DType::BF16: return bf16_to_f32(t.data<uint16_t>()[i]);
    case DType::F16: return f16_to_f32(t.data<uint16_t>()[i]);
    case DType::I64: {
      int64_t raw;
      std::memcpy(&raw, static_cast<const char*>(t.data()) + 8 * i, 8);
      const uint32_t bits = static_cast<uint32_t>(raw & 0xffffffffu);
      float v;
      std::memcpy(&v, &bits, 4);
      return v;
    }
    default: return 0.0f;
  }
}

class W8A8Reader {
 public:
  W8A8Reader(const Checkpoint& ck, const QuantDescription& d) : ck_(ck), desc_(d) {}

  LinearWeight operator()(const LinearSpec& s, std::vector<Buffer>& owned) const {
    const std::string& p = s.prefix;
    const int64_t n = s.out, k = s.in;
    const QuantType type = desc_.type_of(p + ".weight");
    if (type == QuantType::Float) return float_linear(ck_, s);
    LinearWeight w;
    const Tensor full = ck_.get(p + ".weight");
    ROTOR_CHECK(full.dtype() == DType::I8, "checkpoint: tensor '{}.weight' ({}) has dtype {}, expected I8", p,
                quant_type_name(type), dtype_name(full.dtype()));
    ROTOR_CHECK(full.shape() == Shape({n, k}), "checkpoint: tensor '{}.weight' has shape {}, expected {}", p,
                full.shape().str(), Shape({n, k}).str());
    w.weight = slice_2d(full, s.rows, s.cols);
    if (type == QuantType::W8A8) {
      w.kind = QuantKind::W8A8Static;
      w.input_scale = scalar(p + ".input_scale");
      w.input_offset = scalar(p + ".input_offset");
      ROTOR_CHECK(w.input_scale > 0.0f && std::isfinite(w.input_scale),
                  "checkpoint: tensor '{}.input_scale' is {}, expected a positive number", p, w.input_scale);
      ROTOR_CHECK(w.input_offset == std::nearbyint(w.input_offset) && w.input_offset >= -128.0f &&
                      w.input_offset <= 127.0f,
                  "checkpoint: tensor '{}.input_offset' is {}, expected an integer in [-128, 127]", p,
                  w.input_offset);
      w.deq_scale = vector_f32(p + ".deq_scale", n, s.rows, owned);
      if (s.adds_bias) w.quant_bias = quant_bias(p + ".quant_bias", n, s.rows, owned);
    } else {
      w.kind = QuantKind::W8A8Dynamic;
      w.weight_scale = vector_f32(p + ".weight_scale", n, s.rows, owned);
      if (ck_.has(p + ".weight_offset")) {
        const Tensor off = per_channel(p + ".weight_offset", n);
        for (int64_t i = 0; i < n; ++i)
          ROTOR_CHECK(scale_at(off, i) == 0.0f,
                      "checkpoint: tensor '{}.weight_offset' is not zero: asymmetric int8 weights are not supported",
                      p);
      }
    }
    return w;
  }

 private:
  // A [n] or [n, 1] tensor of a scale dtype.
  Tensor per_channel(const std::string& name, int64_t n) const {
    const Tensor t = ck_.get(name);
    ROTOR_CHECK(t.shape() == Shape({n}) || t.shape() == Shape({n, 1}),
                "checkpoint: tensor '{}' has shape {}, expected [{}] or [{}, 1]", name, t.shape().str(), n, n);
    ROTOR_CHECK(is_float(t.dtype()) || t.dtype() == DType::I64,
                "checkpoint: tensor '{}' has dtype {}, expected F32, BF16, F16 or I64 (fp32 bits)", name,
                dtype_name(t.dtype()));
    return t;
  }

  float scalar(const std::string& name) const {
    const Tensor t = ck_.get(name);
    ROTOR_CHECK(t.numel() == 1 && t.ndim() <= 1, "checkpoint: tensor '{}' has shape {}, expected [1]", name,
                t.shape().str());
    ROTOR_CHECK(is_float(t.dtype()), "checkpoint: tensor '{}' has dtype {}, expected F32, BF16 or F16", name,
                dtype_name(t.dtype()));
    return scale_at(t, 0);
  }

  // f32 [rows.size]: rows of an [n] per-channel vector, the mapped tensor itself when it is
  // f32, else converted into an owned buffer.
  Tensor vector_f32(const std::string& name, int64_t n, Slice rows, std::vector<Buffer>& owned) const {
    const Tensor t = per_channel(name, n);
    if (t.dtype() == DType::F32 && reinterpret_cast<uintptr_t>(t.data()) % alignof(float) == 0)
      return t.view({n}).rows(rows.begin, rows.end());
    Buffer b(cpu_allocator(), rows.size * sizeof(float));
    Tensor f = b.as(DType::F32, {rows.size});
    for (int64_t i = 0; i < rows.size; ++i) f.data<float>()[i] = scale_at(t, rows.begin + i);
    owned.push_back(std::move(b));
    return f;
  }

  // i32 [rows.size] of an [n] vector (an I64 tensor is narrowed, checked).
  Tensor quant_bias(const std::string& name, int64_t n, Slice rows, std::vector<Buffer>& owned) const {
    const Tensor t = ck_.get(name);
    ROTOR_CHECK(t.shape() == Shape({n}) || t.shape() == Shape({n, 1}),
                "checkpoint: tensor '{}' has shape {}, expected [{}]", name, t.shape().str(), n);
    ROTOR_CHECK(t.dtype() == DType::I32 || t.dtype() == DType::I64,
                "checkpoint: tensor '{}' has dtype {}, expected I32", name, dtype_name(t.dtype()));
    if (t.dtype() == DType::I32) return t.view({n}).rows(rows.begin, rows.end());
    Buffer b(cpu_allocator(), rows.size * sizeof(int32_t));
    Tensor q = b.as(DType::I32, {rows.size});
    for (int64_t i = 0; i < rows.size; ++i) {
      const int64_t v = t.data<int64_t>()[rows.begin + i];
      ROTOR_CHECK(v >= INT32_MIN && v <= INT32_MAX, "checkpoint: tensor '{}' holds {}, outside the i32 range", name, v);
      q.data<int32_t>()[i] = static_cast<int32_t>(v);
    }
    owned.push_back(std::move(b));
    return q;
  }

  const Checkpoint& ck_;
  const QuantDescription& desc_;
};

}  // namespace

ModelWeights load_w8a8_weights(const ModelConfig& c, const std::filesystem::path& dir, const ShardSpec& shard) {
  const QuantDescription desc = QuantDescription::load(dir);
  std::shared_ptr<Checkpoint> ck = Checkpoint::open(dir, QuantDescription::kWeightPrefix);
  for (const auto& [name, type] : desc.tensors)
    ROTOR_CHECK(ck->has(name), "{} names tensor '{}' ({}), which no {}*.safetensors file holds",
                QuantDescription::kFileName, name, quant_type_name(type), QuantDescription::kWeightPrefix);
  int quantized = 0;
  for (const auto& [name, type] : desc.tensors)
    if (type != QuantType::Float && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) ++quantized;
  ROTOR_LOG_INFO("W8A8 checkpoint ({}): {} quantized linear layers in the description",
                 desc.model_quant_type.empty() ? "no model_quant_type" : desc.model_quant_type, quantized);
  ModelWeights w = assemble_weights(c, shard, ck, W8A8Reader(*ck, desc));
  w.quantization = "w8a8";
  return w;
}

}  // namespace rotor
