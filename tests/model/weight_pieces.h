// tests/model/weight_pieces.h — every leaf tensor of a model's weights by checkpoint name,
// with the rows and columns of the full tensor it holds (through the architecture's weight
// walk), for tests that compare shards, uploads and models tensor by tensor.
#pragma once
#include <cstring>
#include <map>
#include <string>

#include "model/weights.h"

namespace rotor::test {

// Every leaf tensor of some weights by name, with the part of the full tensor it holds.
struct Piece {
  Tensor t;
  Slice rows, cols;
  bool expected = true;  // false: a row-parallel bias this rank must not hold
};
using Pieces = std::map<std::string, Piece>;

class Collector final : public WeightVisitor {
 public:
  Pieces pieces;
  void tensor(Tensor& t, const TensorSpec& s) override {
    if (t.defined()) pieces[s.name] = {t, s.rows, {0, t.ndim() == 2 ? s.shape[1] : 1}};
  }
  void linear(LinearWeight& w, const LinearSpec& s) override {
    if (s.tied_to && w.weight.data() == s.tied_to->data()) return;
    for_each_tensor(w, [&](Tensor& t, const char* suffix, bool per_channel) {
      const std::string name = s.prefix + "." + suffix;
      const bool bias = std::strcmp(suffix, "bias") == 0 || std::strcmp(suffix, "quant_bias") == 0;
      if (per_channel)
        pieces[name] = {t, s.rows, {0, 1}, !bias || s.adds_bias};
      else
        pieces[name] = {t, s.rows, s.cols};
    });
  }
  void experts(ExpertWeights& e, const ExpertsSpec& s) override {
    for (int64_t x = 0; x < e.num_experts; ++x) {
      linear(e.gate[x], s.gate_spec(s.experts.begin + x));
      linear(e.up[x], s.up_spec(s.experts.begin + x));
      linear(e.down[x], s.down_spec(s.experts.begin + x));
    }
  }
};

inline Pieces collect(const ModelConfig& c, const ModelWeights& w) {
  ModelWeights v = w.views();
  Collector col;
  visit_weights(c, v, col);
  return col.pieces;
}

// Bytes of element (i, j) of a 1-D ([n] as [n, 1]) or 2-D tensor.
inline const char* at(const Tensor& t, int64_t i, int64_t j) {
  const size_t e = dtype_size(t.dtype());
  if (t.ndim() == 1) return static_cast<const char*>(t.data()) + i * e;
  return static_cast<const char*>(t.row_ptr(i)) + j * e;
}

}  // namespace rotor::test
