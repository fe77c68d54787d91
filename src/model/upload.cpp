// model/upload.cpp — copies host weights (mmap'd or owned) to a device, tensor by tensor;
// bf16 experts into the stacked layout (ExpertWeights::w13, w2) the GPU kernels read. Reading
// the mmap'd checkpoint is where the time goes: a progress line every ~2 s (bytes, rate, ETA,
// the shard being read) and one as each shard is left behind.
#include "model/safetensors.h"
#include "core/check.h"
#include "core/progress.h"
#include "model/weights.h"

namespace rotor {
namespace {

size_t bytes_of(const Tensor& t) { return t.defined() ? t.nbytes() : 0; }

size_t bytes_of(const LinearWeight& w) {
  return bytes_of(w.weight) + bytes_of(w.bias) + bytes_of(w.deq_scale) + bytes_of(w.quant_bias) +
         bytes_of(w.weight_scale);
}

// Every byte upload_weights copies (tied lm_head once).
uint64_t upload_bytes(const ModelWeights& h) {
  uint64_t n = bytes_of(h.embed) + bytes_of(h.final_norm) + bytes_of(h.final_norm_bias);
  if (h.lm_head.weight.data() != h.embed.data()) n += bytes_of(h.lm_head);
  for (const LayerWeights& L : h.layers) {
    n += bytes_of(L.input_norm) + bytes_of(L.input_norm_bias) + bytes_of(L.post_norm) + bytes_of(L.post_norm_bias) +
         bytes_of(L.q_norm) + bytes_of(L.k_norm) + bytes_of(L.o_proj) + bytes_of(L.router);
    for (const LinearWeight& w : L.qkv) n += bytes_of(w);
    for (const auto* list : {&L.experts.gate, &L.experts.up, &L.experts.down})
      for (const LinearWeight& w : *list) n += bytes_of(w);
  }
  return n;
}

class Uploader {
 public:
  Uploader(Allocator& dev, ModelWeights& out, ProgressMeter& progress, const Checkpoint* ck)
      : dev_(dev), out_(out), progress_(progress), ck_(ck) {}

  // dev_.copy, counted, with a note when the source moves on to another shard.
  void copy(void* dst, const void* src, size_t n) {
    dev_.copy(dst, src, n);
    const std::string shard = ck_ ? ck_->file_of(src) : "";
    if (!shard.empty() && shard != shard_) {
      if (!shard_.empty() && ck_->num_files() > 1) progress_.note("read " + shard_);
      shard_ = shard;
    }
    progress_.add(n, shard_);
  }

  Tensor operator()(const Tensor& t) {
    if (!t.defined()) return t;
    ROTOR_CHECK(t.is_contiguous(), "upload: {} is not contiguous", t.str());
    Buffer b(dev_, t.nbytes());
    copy(b.data(), t.data(), t.nbytes());
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
  ProgressMeter& progress_;
  const Checkpoint* ck_;
  std::string shard_;
};

// bf16 experts go up stacked (w13 [E, 2I, H], w2 [E, H, I]) with per-expert views into
// them; quantized experts tensor by tensor.
ExpertWeights upload_experts(const ExpertWeights& h, Allocator& dev, ModelWeights& out, Uploader& up) {
  ExpertWeights d = h;
  const int64_t E = h.num_experts, H = h.hidden, I = h.inter;
  bool stackable = E > 0;
  for (int64_t e = 0; e < E && stackable; ++e)
    for (const LinearWeight* w : {&h.gate[e], &h.up[e], &h.down[e]})
      stackable = stackable && w->kind == QuantKind::None && w->weight.dtype() == DType::BF16 &&
                  w->weight.is_contiguous() && !w->bias.defined();
  if (!stackable) {
    d.gate = up(h.gate);
    d.up = up(h.up);
    d.down = up(h.down);
    return d;
  }
  Buffer w13(dev, static_cast<size_t>(E * 2 * I * H) * 2), w2(dev, static_cast<size_t>(E * H * I) * 2);
  d.w13 = w13.as(DType::BF16, {E, 2 * I, H});
  d.w2 = w2.as(DType::BF16, {E, H, I});
  if (h.w13.defined() && h.w2.defined() && h.w13.is_contiguous() && h.w2.is_contiguous()) {
    up.copy(d.w13.data(), h.w13.data(), d.w13.nbytes());
    up.copy(d.w2.data(), h.w2.data(), d.w2.nbytes());
  }
  for (int64_t e = 0; e < E; ++e) {
    const Tensor w13e = d.w13.rows(e, e + 1).view({2 * I, H});
    d.gate[e] = LinearWeight::dense(w13e.rows(0, I));
    d.up[e] = LinearWeight::dense(w13e.rows(I, 2 * I));
    d.down[e] = LinearWeight::dense(d.w2.rows(e, e + 1).view({H, I}));
    if (h.w13.defined() && h.w2.defined() && h.w13.is_contiguous() && h.w2.is_contiguous()) continue;
    for (auto [dst, src] : {std::pair{&d.gate[e], &h.gate[e]}, {&d.up[e], &h.up[e]}, {&d.down[e], &h.down[e]}}) {
      expect(src->weight, DType::BF16, dst->weight.shape(), "expert weight");
      up.copy(dst->weight.data(), src->weight.data(), dst->weight.nbytes());
    }
  }
  out.owned.push_back(std::move(w13));
  out.owned.push_back(std::move(w2));
  return d;
}

}  // namespace

ModelWeights upload_weights(const ModelWeights& h, Allocator& dev) {
  ModelWeights d;
  ProgressMeter progress("loading weights to the device", upload_bytes(h));
  Uploader up(dev, d, progress, h.checkpoint.get());
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
    D.experts = upload_experts(L.experts, dev, d, up);
    d.layers.push_back(std::move(D));
  }
  progress.finish();
  return d;
}

}  // namespace rotor
