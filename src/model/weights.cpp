// model/weights.cpp — what every architecture's weights share: view copies, the expert specs'
// per-projection slices, and the scan for quantized linear layers.
#include "model/weights.h"

#include <fmt/format.h>

namespace rotor {

ModelWeights ModelWeights::views() const {
  ModelWeights w;
  w.embed = embed;
  w.final_norm = final_norm;
  w.final_norm_bias = final_norm_bias;
  w.lm_head = lm_head;
  w.layers = layers;
  w.quantization = quantization;
  w.shard = shard;
  w.k_scale = k_scale;
  w.v_scale = v_scale;
  return w;
}

LinearSpec ExpertsSpec::gate_spec(int64_t e) const {
  return {fmt::format("{}.{}.{}", prefix, e, gate), inter, hidden, inter_slice, {0, hidden}};
}

LinearSpec ExpertsSpec::up_spec(int64_t e) const {
  return {fmt::format("{}.{}.{}", prefix, e, up), inter, hidden, inter_slice, {0, hidden}};
}

LinearSpec ExpertsSpec::down_spec(int64_t e) const {
  LinearSpec s{fmt::format("{}.{}.{}", prefix, e, down), hidden, inter, {0, hidden}, inter_slice};
  s.adds_bias = adds_bias;
  return s;
}

namespace {

class QuantScan final : public WeightVisitor {
 public:
  bool found = false;
  void tensor(Tensor&, const TensorSpec&) override {}
  void linear(LinearWeight& w, const LinearSpec&) override { found |= w.quantized(); }
  void experts(ExpertWeights&, const ExpertsSpec&) override {}
};

}  // namespace

bool has_quantized_linear(const ModelConfig& config, const ModelWeights& w) {
  ModelWeights v = w.views();
  QuantScan scan;
  visit_weights(config, v, scan);
  return scan.found;
}

}  // namespace rotor
