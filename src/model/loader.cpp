// model/loader.cpp — checkpoint loading: names, dtypes and shapes checked against the config,
// one rank's slices kept as views; bf16/f32 checkpoints here, W8A8 ones
// (quant_model_description.json) in w8a8_loader.cpp.
#include "model/loader.h"

#include "model/kv_scales.h"
#include "model/quant_description.h"

namespace rotor {
namespace {

// Fills a ModelWeights from a checkpoint as the architecture walks it.
class CheckpointReader final : public WeightVisitor {
 public:
  CheckpointReader(const Checkpoint& ck, const LinearReader& linear, ModelWeights& w)
      : ck_(ck), linear_(linear), w_(w) {}

  void tensor(Tensor& t, const TensorSpec& s) override {
    if (s.optional && !ck_.has(s.name)) {
      t = Tensor{};
      return;
    }
    t = ck_.get(s.name, s.shape).rows(s.rows.begin, s.rows.end());
  }
  void linear(LinearWeight& w, const LinearSpec& s) override {
    if (s.tied_to && !ck_.has(s.prefix + ".weight")) {
      w = LinearWeight::dense(*s.tied_to);
      return;
    }
    w = linear_(s, w_.owned);
  }
  void experts(ExpertWeights& e, const ExpertsSpec& s) override {
    e = ExpertWeights{};
    e.num_experts = static_cast<int>(s.experts.size);
    e.first_expert = static_cast<int>(s.experts.begin);
    e.hidden = static_cast<int>(s.hidden);
    e.inter = static_cast<int>(s.inter_slice.size);
    for (int64_t x = s.experts.begin; x < s.experts.end(); ++x) {
      e.gate.push_back(linear_(s.gate_spec(x), w_.owned));
      e.up.push_back(linear_(s.up_spec(x), w_.owned));
      e.down.push_back(linear_(s.down_spec(x), w_.owned));
    }
  }

 private:
  const Checkpoint& ck_;
  const LinearReader& linear_;
  ModelWeights& w_;
};

}  // namespace

Tensor slice_2d(const Tensor& t, Slice rows, Slice cols) {
  const Tensor r = t.rows(rows.begin, rows.end());
  return cols.begin == 0 && cols.size == t.size(1) ? r : r.narrow(1, cols.begin, cols.size);
}

LinearWeight float_linear(const Checkpoint& ck, const LinearSpec& s) {
  LinearWeight w;
  w.weight = slice_2d(ck.get(s.prefix + ".weight", {s.out, s.in}), s.rows, s.cols);
  if (s.adds_bias && ck.has(s.prefix + ".bias"))
    w.bias = ck.get(s.prefix + ".bias", {s.out}).rows(s.rows.begin, s.rows.end());
  return w;
}

ModelWeights assemble_weights(const ModelConfig& c, const ShardSpec& shard, std::shared_ptr<Checkpoint> checkpoint,
                              const LinearReader& linear) {
  ModelWeights w;
  w.shard = shard;
  w.checkpoint = std::move(checkpoint);
  CheckpointReader reader(*w.checkpoint, linear, w);
  visit_weights(c, w, reader);
  KvScales kv = read_kv_scales(*w.checkpoint, c.num_layers);
  w.k_scale = std::move(kv.k);
  w.v_scale = std::move(kv.v);
  return w;
}

ModelWeights load_weights(const ModelConfig& c, const std::filesystem::path& dir, const ShardSpec& shard) {
  if (QuantDescription::present(dir)) return load_w8a8_weights(c, dir, shard);
  std::shared_ptr<Checkpoint> ck = Checkpoint::open(dir, "model");
  return assemble_weights(c, shard, ck,
                          [&](const LinearSpec& s, std::vector<Buffer>&) { return float_linear(*ck, s); });
}

}  // namespace rotor
