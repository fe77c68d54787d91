// model/upload.cpp — copies host weights (mmap'd or owned) to a device, tensor by tensor.
#include "model/safetensors.h"
#include "core/check.h"
#include "model/weights.h"

namespace rotor {
namespace {

class Uploader {
 public:
  Uploader(Allocator& dev, ModelWeights& out) : dev_(dev), out_(out) {}

  Tensor operator()(const Tensor& t) {
    if (!t.defined()) return t;
    ROTOR_CHECK(t.is_contiguous(), "upload: {} is not contiguous", t.str());
    Buffer b(dev_, t.nbytes());
    dev_.copy(b.data(), t.data(), t.nbytes());
    Tensor d = b.as(t.dtype(), t.shape());
    out_.owned.push_back(std::move(b));
    return d;
  }
  LinearWeight operator()(const LinearWeight& w) {
    LinearWeight d = w;
    d.weight = (*this)(w.weight);
    d.bias = (*this)(w.bias);
    d.deq_scale = (*this)(w.deq_scale);
    d.quant_bias = (*this)(w.quant_bias);
    d.weight_scale = (*this)(w.weight_scale);
    return d;
  }
  std::vector<LinearWeight> operator()(const std::vector<LinearWeight>& ws) {
    std::vector<LinearWeight> d;
    for (auto& w : ws) d.push_back((*this)(w));
    return d;
  }

 private:
  Allocator& dev_;
  ModelWeights& out_;
};

}  // namespace

ModelWeights upload_weights(const ModelWeights& h, Allocator& dev) {
  ModelWeights d;
  Uploader up(dev, d);
  d.embed = up(h.embed);
  d.final_norm = up(h.final_norm);
  d.final_norm_bias = up(h.final_norm_bias);
  d.quantization = h.quantization;
  d.lm_head = h.lm_head.weight.data() == h.embed.data() ? LinearWeight::dense(d.embed) : up(h.lm_head);
  for (auto& L : h.layers) {
    LayerWeights D;
    D.input_norm = up(L.input_norm);
    D.input_norm_bias = up(L.input_norm_bias);
    D.post_norm = up(L.post_norm);
    D.post_norm_bias = up(L.post_norm_bias);
    D.q_norm = up(L.q_norm);
    D.k_norm = up(L.k_norm);
    D.qkv = up(L.qkv);
    D.o_proj = up(L.o_proj);
    D.router = up(L.router);
    D.experts = L.experts;
    D.experts.gate = up(L.experts.gate);
    D.experts.up = up(L.experts.up);
    D.experts.down = up(L.experts.down);
    d.layers.push_back(std::move(D));
  }
  return d;
}

}  // namespace rotor
