// bench/roofline.cpp — the bytes of one decode step and the measured copy bandwidth (roofline.h).
#include "bench/roofline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace rotor {

DecodeBytes decode_step_bytes(const ModelConfig& c, const DecodeRooflineCase& k) {
  const double E = c.num_experts, top = c.num_experts_per_tok, L = c.num_layers;
  const double H = c.hidden_size, I = c.moe_intermediate_size, hd = c.head_dim, Q = c.q_size();
  const double kv_heads = std::max(c.num_kv_heads, k.world);
  DecodeBytes b;
  b.touched = E * (1.0 - std::pow(1.0 - top / E, k.batch));
  b.experts = b.touched * 3.0 * H * I * k.weight_bytes * L;
  const double attention = (H * (Q + 2.0 * kv_heads * hd) + Q * H) * k.weight_bytes;
  const double routers = k.world * E * H * 2.0;
  b.dense = L * (attention + routers) + double(c.vocab_size) * H * 2.0;
  b.kv = k.batch * k.context * L * 2.0 * kv_heads * hd * k.kv_bytes;
  return b;
}

double measure_copy_bandwidth(Ops& ops) {
  const size_t bytes = size_t(2) << 30;
  Buffer a(ops.allocator(), bytes), b(ops.allocator(), bytes);
  ops.fill_random(Tensor(a.data(), DType::BF16, {static_cast<int64_t>(bytes / 2)}, a.device()), 1, 0.0f, 1.0f);
  ops.allocator().copy(b.data(), a.data(), bytes);
  std::vector<double> t;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    ops.allocator().copy(b.data(), a.data(), bytes);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return 2.0 * bytes / t[t.size() / 2];
}

}  // namespace rotor
