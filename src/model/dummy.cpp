// model/dummy.cpp — `--load-format dummy`: random bf16 weights of the config's shapes,
// made directly on the backend's device, deterministic for a seed (experts stacked).
#include <fmt/format.h>

#include <cmath>
#include "core/check.h"

#include "core/hash_rng.h"
#include "core/progress.h"
#include "model/weights.h"

namespace rotor {
namespace {

// Carves tensors out of one buffer and fills each with its own random stream.
class Filler {
 public:
  Filler(Ops& ops, uint64_t seed, int64_t elements)
      : ops_(ops), seed_(seed), buffer_(ops.allocator(), static_cast<size_t>(elements) * 2) {}

  // The next `shape` elements of the buffer, unfilled.
  Tensor take(Shape shape) {
    Tensor t(static_cast<char*>(buffer_.data()) + used_ * 2, DType::BF16, shape, buffer_.device());
    used_ += shape.numel();
    ROTOR_CHECK(used_ * 2 <= static_cast<int64_t>(buffer_.size()), "dummy weights: buffer too small");
    return t;
  }
  // Fills t with the next random stream.
  Tensor fill(const Tensor& t, float mean, float std) {
    ops_.fill_random(t, mix64(seed_ + ++count_), mean, std);
    return t;
  }
  Tensor next(Shape shape, float mean, float std) { return fill(take(shape), mean, std); }
  LinearWeight linear(int64_t n, int64_t k) {
    LinearWeight w;
    w.weight = next({n, k}, 0.0f, 1.0f / std::sqrt(static_cast<float>(k)));
    return w;
  }
  Buffer release() { return std::move(buffer_); }

 private:
  Ops& ops_;
  uint64_t seed_;
  Buffer buffer_;
  int64_t used_ = 0;
  uint64_t count_ = 0;
};

}  // namespace

ModelWeights dummy_weights(const ModelConfig& c, uint64_t seed, Ops& ops) {
  const int64_t H = c.hidden_size, V = c.vocab_size, hd = c.head_dim, I = c.moe_intermediate_size,
                E = c.num_experts;
  ModelWeights w;
  const int64_t outer = V * H * (c.tie_word_embeddings ? 1 : 2) + H;
  const int64_t per_layer = 2 * H + 2 * hd + H * c.qkv_size() + c.q_size() * H + E * H + E * 3 * H * I;
  ProgressMeter progress("making dummy weights", static_cast<uint64_t>(outer + per_layer * c.num_layers) * 2);
  {
    Filler f(ops, mix64(seed), outer);
    w.embed = f.next({V, H}, 0.0f, 1.0f);
    w.final_norm = f.next({H}, 1.0f, 0.1f);
    w.lm_head = c.tie_word_embeddings ? LinearWeight::dense(w.embed) : f.linear(V, H);
    w.owned.push_back(f.release());
    progress.add(outer * 2, "embeddings");
  }
  for (int i = 0; i < c.num_layers; ++i) {
    Filler f(ops, mix64(seed + 1 + i), per_layer);
    LayerWeights L;
    L.input_norm = f.next({H}, 1.0f, 0.1f);
    L.post_norm = f.next({H}, 1.0f, 0.1f);
    L.q_norm = f.next({hd}, 1.0f, 0.1f);
    L.k_norm = f.next({hd}, 1.0f, 0.1f);
    L.qkv = {f.linear(c.q_size(), H), f.linear(c.kv_size(), H), f.linear(c.kv_size(), H)};
    L.o_proj = f.linear(H, c.q_size());
    L.router = f.linear(E, H);
    L.experts.num_experts = static_cast<int>(E);
    L.experts.hidden = static_cast<int>(H);
    L.experts.inter = static_cast<int>(I);
    // Stacked experts (w13 [E, 2I, H], w2 [E, H, I]); each projection its own stream.
    L.experts.w13 = f.take({E, 2 * I, H});
    L.experts.w2 = f.take({E, H, I});
    const float std_h = 1.0f / std::sqrt(static_cast<float>(H)), std_i = 1.0f / std::sqrt(static_cast<float>(I));
    for (int64_t e = 0; e < E; ++e) {
      const Tensor w13 = L.experts.w13.rows(e, e + 1).view({2 * I, H});
      L.experts.gate.push_back(LinearWeight::dense(f.fill(w13.rows(0, I), 0.0f, std_h)));
      L.experts.up.push_back(LinearWeight::dense(f.fill(w13.rows(I, 2 * I), 0.0f, std_h)));
      L.experts.down.push_back(LinearWeight::dense(f.fill(L.experts.w2.rows(e, e + 1).view({H, I}), 0.0f, std_i)));
    }
    w.layers.push_back(std::move(L));
    w.owned.push_back(f.release());
    progress.add(per_layer * 2, fmt::format("layer {} of {}", i + 1, c.num_layers));
  }
  progress.finish();
  return w;
}

}  // namespace rotor
