// model/dummy.cpp — `--load-format dummy`: random weights of the config's shapes for one rank,
// made directly on the backend's device as the architecture walks them, deterministic for a
// seed (a stream per tensor, numbered within its layer; experts stacked): bf16, or W8A8 with
// the int8 weights and scales of random float ones quantised per output channel on the device;
// a progress line every ~2 s by layer.
#include <fmt/format.h>

#include <cmath>

#include "core/hash_rng.h"
#include "core/progress.h"
#include "model/weights.h"

namespace rotor {
namespace {

// The static activation scale of dummy W8A8 layers: inputs within about +-4 (offset 0).
constexpr float kInputScale = 4.0f / 127.0f;

// The bytes DummyMaker makes (each tensor's elements at its stored size).
class ByteCounter final : public WeightVisitor {
 public:
  explicit ByteCounter(bool int8) : int8_(int8) {}
  uint64_t bytes = 0;

  void tensor(Tensor&, const TensorSpec& s) override {
    if (!s.optional) bytes += static_cast<uint64_t>(s.shape.numel() / s.shape[0] * s.rows.size) * 2;
  }
  void linear(LinearWeight&, const LinearSpec& s) override {
    if (s.tied_to) return;
    const bool q = int8_ && s.quantizable;
    bytes += static_cast<uint64_t>(s.rows.size * s.cols.size) * (q ? 1 : 2) + (q ? s.rows.size * 4 : 0);
  }
  void experts(ExpertWeights&, const ExpertsSpec& s) override {
    const uint64_t E = s.experts.size, H = s.hidden, I = s.inter_slice.size;
    bytes += E * 3 * H * I * (int8_ ? 1 : 2) + (int8_ ? E * (2 * I + H) * 4 : 0);
  }

 private:
  bool int8_;
};

class DummyMaker final : public WeightVisitor {
 public:
  DummyMaker(Ops& ops, uint64_t seed, ModelWeights& w, bool int8, ProgressMeter& progress, int num_layers)
      : ops_(ops), seed_(seed), w_(w), int8_(int8), progress_(progress), num_layers_(num_layers) {}
  ~DummyMaker() override { ops_.synchronize(); }  // the quantisation scratch is read until then

  void begin_group(int layer) override {
    group_seed_ = mix64(seed_ + 1 + layer);  // the model's own tensors (layer -1): mix64(seed)
    count_ = 0;
    detail_ = layer < 0 ? "embeddings" : fmt::format("layer {} of {}", layer + 1, num_layers_);
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
    if (!int8_ || !s.quantizable) {
      w = LinearWeight::dense(fill(take({s.rows.size, s.cols.size}), 0.0f, in_std(s.in), s.split()));
      return;
    }
    // W8A8Static: weights drawn kInputScale times larger quantise to the same int8 values, with
    // per-channel scales that are the dequantisation scale (input_scale * weight scale).
    w = LinearWeight{};
    w.kind = QuantKind::W8A8Static;
    w.input_scale = kInputScale;
    w.weight = take({s.rows.size, s.cols.size}, DType::I8);
    w.deq_scale = take({s.rows.size}, DType::F32);
    quantize(w.weight, w.deq_scale, in_std(s.in) * kInputScale, s.split());
  }
  // Stacked (w13 [E, 2I, H], w2 [E, H, I]); each projection its own stream.
  void experts(ExpertWeights& ex, const ExpertsSpec& s) override {
    const int64_t E = s.experts.size, H = s.hidden, I = s.inter_slice.size;
    const bool split = E != s.num_experts || I != s.inter;
    ex = ExpertWeights{};
    ex.num_experts = static_cast<int>(E);
    ex.hidden = static_cast<int>(H);
    ex.inter = static_cast<int>(I);
    ex.w13 = take({E, 2 * I, H}, int8_ ? DType::I8 : DType::BF16);
    ex.w2 = take({E, H, I}, int8_ ? DType::I8 : DType::BF16);
    if (int8_) {
      ex.w13_scale = take({E, 2 * I}, DType::F32);
      ex.w2_scale = take({E, H}, DType::F32);
    }
    // A projection's rows [first, first + n) of a stack: bf16 filled, or int8 (W8A8Dynamic)
    // quantised with their per-channel scales.
    auto make = [&](const Tensor& stack, const Tensor& scales, int64_t e, int64_t first, int64_t n, float std) {
      const Tensor w = stack.rows(e, e + 1).view({stack.size(1), stack.size(2)}).rows(first, first + n);
      if (!int8_) return LinearWeight::dense(fill(w, 0.0f, std, split));
      LinearWeight l = LinearWeight::dense(w);
      l.kind = QuantKind::W8A8Dynamic;
      l.weight_scale = scales.rows(e, e + 1).view({scales.size(1)}).rows(first, first + n);
      quantize(l.weight, l.weight_scale, std, split);
      return l;
    };
    for (int64_t e = 0; e < E; ++e) {
      ex.gate.push_back(make(ex.w13, ex.w13_scale, e, 0, I, in_std(H)));
      ex.up.push_back(make(ex.w13, ex.w13_scale, e, I, I, in_std(H)));
      ex.down.push_back(make(ex.w2, ex.w2_scale, e, 0, H, in_std(s.inter)));
    }
  }

 private:
  static float in_std(int64_t in_features) { return 1.0f / std::sqrt(static_cast<float>(in_features)); }
  Tensor take(Shape shape, DType dtype = DType::BF16) {
    Buffer b(ops_.allocator(), static_cast<size_t>(shape.numel()) * dtype_size(dtype));
    Tensor t = b.as(dtype, shape);
    w_.owned.push_back(std::move(b));
    progress_.add(t.nbytes(), detail_);
    return t;
  }
  // Random float rows ~ N(0, std^2) quantised per row into weight [n, k] i8 and scales [n] f32.
  void quantize(const Tensor& weight, const Tensor& scales, float std, bool split) {
    const int64_t n = weight.size(0), k = weight.size(1);
    const size_t bytes = static_cast<size_t>(n * k) * dtype_size(ops_.act_dtype());
    if (scratch_.size() < bytes) {
      ops_.synchronize();
      scratch_ = Buffer(ops_.allocator(), bytes);
    }
    ops_.quant_per_token(fill(scratch_.as(ops_.act_dtype(), {n, k}), 0.0f, std, split), weight, scales);
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
  bool int8_;
  ProgressMeter& progress_;
  int num_layers_;
  std::string detail_;  // the group being made
  Buffer scratch_;  // float weights being quantised
};

}  // namespace

ModelWeights dummy_weights(const ModelConfig& c, uint64_t seed, Ops& ops, const ShardSpec& shard, bool w8a8) {
  ModelWeights w;
  w.shard = shard;
  w.quantization = w8a8 ? "w8a8" : "";
  ByteCounter counter(w8a8);
  ModelWeights sizes;
  sizes.shard = shard;
  visit_weights(c, sizes, counter);
  ProgressMeter progress("making dummy weights", counter.bytes);
  {
    DummyMaker maker(ops, seed, w, w8a8, progress, c.num_layers);
    visit_weights(c, w, maker);
  }
  progress.finish();
  return w;
}

}  // namespace rotor
