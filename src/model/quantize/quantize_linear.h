// model/quantize/quantize_linear.h — one linear layer in the W8A8 format (W8A8.md), exactly as
// w8a8_ref.py's quantize_linear: weights per output channel, symmetric, round half to even,
// ±127; static layers get the activation scale/offset of a calibrated range [lo, hi] and fold
// a float bias into quant_bias.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/quant_description.h"
#include "model/safetensors_writer.h"

namespace rotor {

struct QuantizedLinear {
  int64_t n = 0, k = 0;
  std::vector<int8_t> weight;        // [n, k]
  std::vector<float> weight_scale;   // [n]
  // Static (W8A8) only.
  float input_scale = 0.0f, input_offset = 0.0f;
  std::vector<float> deq_scale;      // [n]
  std::vector<int32_t> quant_bias;   // [n]
};

// w [n, k] row-major; bias [n] or empty (static only).
QuantizedLinear quantize_dynamic(const std::vector<double>& w, int64_t n, int64_t k);
QuantizedLinear quantize_static(const std::vector<double>& w, int64_t n, int64_t k, double lo, double hi,
                                const std::vector<double>& bias);

// The tensors of prefix's layer of this type: plans them in the writer, names them in desc.
void plan_quantized_linear(SafetensorsWriter& writer, std::map<std::string, std::string>& desc,
                           const std::string& prefix, QuantType type, int64_t n, int64_t k);
void write_quantized_linear(SafetensorsWriter& writer, const std::string& prefix, const QuantizedLinear& q);

}  // namespace rotor
