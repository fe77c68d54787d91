// model/dummy.cpp — `--load-format dummy`: random bf16 weights of the config's shapes for one
// rank, made directly on the backend's device as the architecture walks them, deterministic
// for a seed (a stream per tensor, numbered within its layer; experts stacked).
#include <cmath>

#include "core/hash_rng.h"
#include "model/weights.h"

namespace rotor {
namespace {

class DummyMaker final : public WeightVisitor {
 public:
  DummyMaker(Ops& ops, uint64_t seed, ModelWeights& w) : ops_(ops), seed_(seed), w_(w) {}

  void begin_group(int layer) override {
    group_seed_ = mix64(seed_ + 1 + layer);  // the model's own tensors (layer -1): mix64(seed)
    count_ = 0;
  }
  // 1-D tensors are norm weights ~ 1 + N(0, 0.01); optional ones (biases) are left out;
  // 2-D ones are embeddings ~ N(0, 1).
  void tensor(Tensor& t, const TensorSpec& s) override {
    if (s.optional) {
      t = Tensor{};
      return;
    }
    Shape shape = s.shape;
    shape[0] = s.rows.size;
    const bool norm = shape.ndim() == 1;
    t = fill(take(shape), norm ? 1.0f : 0.0f, norm ? 0.1f : 1.0f, s.rows.size != s.shape[0]);
  }
  void linear(LinearWeight& w, const LinearSpec& s) override {
    if (s.tied_to) {
      w = LinearWeight::dense(*s.tied_to);
      return;
    }
    w = LinearWeight::dense(fill(take({s.rows.size, s.cols.size}), 0.0f, in_std(s.in), s.split()));
  }
  // Stacked (w13 [E, 2I, H], w2 [E, H, I]); each projection its own stream.
  void experts(ExpertWeights& ex, const ExpertsSpec& s) override {
    const int64_t E = s.experts.size, H = s.hidden, I = s.inter_slice.size;
    const bool split = E != s.num_experts || I != s.inter;
    ex = ExpertWeights{};
    ex.num_experts = static_cast<int>(E);
    ex.hidden = static_cast<int>(H);
    ex.inter = static_cast<int>(I);
    ex.w13 = take({E, 2 * I, H});
    ex.w2 = take({E, H, I});
    for (int64_t e = 0; e < E; ++e) {
      const Tensor w13 = ex.w13.rows(e, e + 1).view({2 * I, H});
      ex.gate.push_back(LinearWeight::dense(fill(w13.rows(0, I), 0.0f, in_std(H), split)));
      ex.up.push_back(LinearWeight::dense(fill(w13.rows(I, 2 * I), 0.0f, in_std(H), split)));
      ex.down.push_back(LinearWeight::dense(fill(ex.w2.rows(e, e + 1).view({H, I}), 0.0f, in_std(s.inter), split)));
    }
  }

 private:
  static float in_std(int64_t in_features) { return 1.0f / std::sqrt(static_cast<float>(in_features)); }
  Tensor take(Shape shape) {
    Buffer b(ops_.allocator(), static_cast<size_t>(shape.numel()) * 2);
    Tensor t = b.as(DType::BF16, shape);
    w_.owned.push_back(std::move(b));
    return t;
  }
  // Fills t with the group's next stream; a rank's slice of a split tensor draws its own.
  Tensor fill(const Tensor& t, float mean, float std, bool split) {
    uint64_t stream = mix64(group_seed_ + ++count_);
    if (split) stream = mix64(stream ^ mix64(0x5107ull + static_cast<uint64_t>(w_.shard.rank)));
    ops_.fill_random(t, stream, mean, std);
    return t;
  }

  Ops& ops_;
  uint64_t seed_, group_seed_ = 0, count_ = 0;
  ModelWeights& w_;
};

}  // namespace

ModelWeights dummy_weights(const ModelConfig& c, uint64_t seed, Ops& ops, const ShardSpec& shard) {
  ModelWeights w;
  w.shard = shard;
  DummyMaker maker(ops, seed, w);
  visit_weights(c, w, maker);
  return w;
}

}  // namespace rotor
