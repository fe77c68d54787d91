// model/quantize/quantize_linear.cpp — per-channel int8 weights and the static activation
// parameters, in double as the reference computes them.
#include "model/quantize/quantize_linear.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace rotor {
namespace {

QuantizedLinear quantize_weight(const std::vector<double>& w, int64_t n, int64_t k, std::vector<double>& s_w) {
  QuantizedLinear q;
  q.n = n;
  q.k = k;
  q.weight.resize(n * k);
  q.weight_scale.resize(n);
  s_w.resize(n);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    double amax = 0;
    for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(w[r * k + c]));
    const double s = std::max(amax / 127.0, 1e-12);
    for (int64_t c = 0; c < k; ++c)
      q.weight[r * k + c] = static_cast<int8_t>(std::clamp(std::nearbyint(w[r * k + c] / s), -127.0, 127.0));
    s_w[r] = s;
    q.weight_scale[r] = static_cast<float>(s);
  }
  return q;
}

}  // namespace

QuantizedLinear quantize_dynamic(const std::vector<double>& w, int64_t n, int64_t k) {
  std::vector<double> s_w;
  return quantize_weight(w, n, k, s_w);
}

QuantizedLinear quantize_static(const std::vector<double>& w, int64_t n, int64_t k, double lo, double hi,
                                const std::vector<double>& bias) {
  std::vector<double> s_w;
  QuantizedLinear q = quantize_weight(w, n, k, s_w);
  const double s_x = std::max(hi - lo, 1e-8) / 255.0;
  const double o_x = std::clamp(std::nearbyint(-128.0 - lo / s_x), -128.0, 127.0);
  q.input_scale = static_cast<float>(s_x);
  q.input_offset = static_cast<float>(o_x);
  q.deq_scale.resize(n);
  q.quant_bias.resize(n);
  for (int64_t r = 0; r < n; ++r) {
    const double deq = s_x * s_w[r];
    int64_t wsum = 0;
    for (int64_t c = 0; c < k; ++c) wsum += q.weight[r * k + c];
    const double b = bias.empty() ? 0.0 : bias[r];
    const double qb = std::nearbyint(b / deq - o_x * static_cast<double>(wsum));
    ROTOR_CHECK(std::fabs(qb) < 2147483647.0, "quantize: quant_bias {} of a row overflows i32", qb);
    q.deq_scale[r] = static_cast<float>(deq);
    q.quant_bias[r] = static_cast<int32_t>(qb);
  }
  return q;
}

void plan_quantized_linear(SafetensorsWriter& w, std::map<std::string, std::string>& desc, const std::string& p,
                           QuantType type, int64_t n, int64_t k) {
  const std::string t = quant_type_name(type);
  auto plan = [&](const std::string& leaf, DType dtype, const Shape& shape) {
    w.plan(p + leaf, dtype, shape);
    desc[p + leaf] = t;
  };
  plan(".weight", DType::I8, {n, k});
  if (type == QuantType::W8A8) {
    plan(".input_scale", DType::F32, {1});
    plan(".input_offset", DType::F32, {1});
    plan(".deq_scale", DType::F32, {n});
    plan(".quant_bias", DType::I32, {n});
  }
  plan(".weight_scale", DType::F32, {n, 1});
  plan(".weight_offset", DType::F32, {n, 1});
}

void write_quantized_linear(SafetensorsWriter& w, const std::string& p, const QuantizedLinear& q) {
  auto data = [](const auto& v) { return const_cast<void*>(static_cast<const void*>(v.data())); };
  w.write(p + ".weight", Tensor(data(q.weight), DType::I8, {q.n, q.k}));
  if (!q.deq_scale.empty()) {
    float scale = q.input_scale, offset = q.input_offset;
    w.write(p + ".input_scale", Tensor(&scale, DType::F32, {1}));
    w.write(p + ".input_offset", Tensor(&offset, DType::F32, {1}));
    w.write(p + ".deq_scale", Tensor(data(q.deq_scale), DType::F32, {q.n}));
    w.write(p + ".quant_bias", Tensor(data(q.quant_bias), DType::I32, {q.n}));
  }
  w.write(p + ".weight_scale", Tensor(data(q.weight_scale), DType::F32, {q.n, 1}));
  std::vector<float> zeros(q.n, 0.0f);
  w.write(p + ".weight_offset", Tensor(zeros.data(), DType::F32, {q.n, 1}));
}

}  // namespace rotor
