// model/upload.cpp — copies host weights (mmap'd views, strided slices of a shard, or owned)
// to a device tensor by tensor as the architecture walks them, experts into the stacked layout
// the GPU kernels read (bf16, or i8 with stacked per-channel scales); and the CPU's packing of
// strided slices. Reading the mmap'd checkpoint is where an upload's time goes: a progress line
// every ~2 s (bytes, rate, ETA, the shard being read) and one as each shard is left behind.
#include <cstring>
#include <map>
#include <utility>

#include "core/check.h"
#include "core/progress.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace rotor {
namespace {

size_t bytes_of(const Tensor& t) { return t.defined() ? t.nbytes() : 0; }

size_t bytes_of(const LinearWeight& w) {
  return bytes_of(w.weight) + bytes_of(w.bias) + bytes_of(w.deq_scale) + bytes_of(w.quant_bias) +
         bytes_of(w.weight_scale);
}

// Every byte upload_weights copies (a tied lm_head once).
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

// Replaces tensors by contiguous copies on an allocator's device: every one (upload), or only
// the strided ones (packing for the CPU). A tensor seen before (tied embeddings) is reused.
// An upload counts its bytes on `progress` and names the checkpoint file being read.
class Copier final : public WeightVisitor {
 public:
  Copier(Allocator& dev, ModelWeights& out, bool strided_only, ProgressMeter* progress = nullptr,
         const Checkpoint* checkpoint = nullptr)
      : dev_(dev), out_(out), strided_only_(strided_only), progress_(progress), ck_(checkpoint) {}

  void tensor(Tensor& t, const TensorSpec&) override { t = copy(t); }
  void linear(LinearWeight& w, const LinearSpec&) override {
    for_each_tensor(w, [&](Tensor& t, const char*, bool) { t = copy(t); });
  }
  void experts(ExpertWeights& e, const ExpertsSpec&) override {
    if (!strided_only_) {
      if (stack(e)) return;
      e.w13 = e.w2 = e.w13_scale = e.w2_scale = Tensor{};  // host stacks: no device copy
    }
    for (auto* list : {&e.gate, &e.up, &e.down})
      for (LinearWeight& w : *list) linear(w, {});
  }

 private:
  Tensor copy(const Tensor& t) {
    if (!t.defined() || (strided_only_ && t.is_contiguous())) return t;
    const auto key = std::pair{t.data(), t.str()};
    if (auto it = seen_.find(key); it != seen_.end()) return it->second;
    Buffer b(dev_, t.nbytes());
    Tensor d = b.as(t.dtype(), t.shape());
    copy_packed(d, t);
    out_.owned.push_back(std::move(b));
    return seen_[key] = d;
  }
  Tensor allocate(DType dtype, Shape shape) {
    Buffer b(dev_, static_cast<size_t>(shape.numel()) * dtype_size(dtype));
    Tensor t = b.as(dtype, shape);
    out_.owned.push_back(std::move(b));
    return t;
  }

  // Stacks experts that are all bf16 or all W8A8Dynamic int8 (no biases): w13 [E, 2I, H], w2
  // [E, H, I], with w13_scale [E, 2I], w2_scale [E, H] f32 for int8; per-expert views into
  // them. False (nothing done) for any other mix.
  bool stack(ExpertWeights& e) {
    const int64_t E = e.num_experts, H = e.hidden, I = e.inter;
    if (E == 0) return false;
    const LinearWeight& first = e.gate[0];
    const bool int8 = first.kind == QuantKind::W8A8Dynamic;
    const DType dtype = int8 ? DType::I8 : DType::BF16;
    for (const auto* list : {&e.gate, &e.up, &e.down})
      for (const LinearWeight& w : *list)
        if (w.kind != first.kind || w.weight.dtype() != dtype || w.bias.defined() ||
            (!int8 && w.kind != QuantKind::None) || (int8 && w.weight_scale.dtype() != DType::F32))
          return false;
    const ExpertWeights h = e;
    e.w13 = allocate(dtype, {E, 2 * I, H});
    e.w2 = allocate(dtype, {E, H, I});
    if (int8) {
      e.w13_scale = allocate(DType::F32, {E, 2 * I});
      e.w2_scale = allocate(DType::F32, {E, H});
    }
    const bool whole = h.w13.defined() && h.w2.defined() && h.w13.is_contiguous() && h.w2.is_contiguous() &&
                       (!int8 || (h.w13_scale.defined() && h.w2_scale.defined()));
    if (whole)
      for (auto [dst, src] : {std::pair{&e.w13, &h.w13}, {&e.w2, &h.w2}, {&e.w13_scale, &h.w13_scale},
                              {&e.w2_scale, &h.w2_scale}})
        if (dst->defined()) copy_packed(*dst, *src);
    for (int64_t x = 0; x < E; ++x) {
      const Tensor w13 = e.w13.rows(x, x + 1).view({2 * I, H});
      e.gate[x] = expert_view(first.kind, w13.rows(0, I), int8 ? e.w13_scale.rows(x, x + 1).view({2 * I}) : Tensor{}, 0);
      e.up[x] = expert_view(first.kind, w13.rows(I, 2 * I), int8 ? e.w13_scale.rows(x, x + 1).view({2 * I}) : Tensor{}, I);
      e.down[x] = expert_view(first.kind, e.w2.rows(x, x + 1).view({H, I}),
                              int8 ? e.w2_scale.rows(x, x + 1).view({H}) : Tensor{}, 0);
      if (whole) continue;
      for (auto [dst, src] : {std::pair{&e.gate[x], &h.gate[x]}, {&e.up[x], &h.up[x]}, {&e.down[x], &h.down[x]}}) {
        expect(src->weight, dtype, dst->weight.shape(), "expert weight");
        copy_packed(dst->weight, src->weight);
        if (int8) copy_packed(dst->weight_scale, src->weight_scale);
      }
    }
    return true;
  }
  // Copies src (contiguous, or 2-D with contiguous rows) into the contiguous dst on the device,
  // counted, with a note when the source moves on to another checkpoint file.
  void copy_packed(const Tensor& dst, const Tensor& src) {
    ROTOR_CHECK(src.dtype() == dst.dtype() && src.numel() == dst.numel(), "upload: {} into {}", src.str(), dst.str());
    if (src.is_contiguous()) {
      dev_.copy(dst.data(), src.data(), src.nbytes());
    } else {
      ROTOR_CHECK(src.ndim() == 2 && src.stride(1) == 1, "upload: {} is neither contiguous nor a column slice",
                  src.str());
      const size_t row = static_cast<size_t>(src.size(1)) * dtype_size(src.dtype());
      std::vector<char> staging(row * src.size(0));
      for (int64_t r = 0; r < src.size(0); ++r) std::memcpy(staging.data() + r * row, src.row_ptr(r), row);
      dev_.copy(dst.data(), staging.data(), staging.size());
    }
    if (!progress_) return;
    const std::string file = ck_ ? ck_->file_of(src.data()) : "";
    if (!file.empty() && file != file_) {
      if (!file_.empty() && ck_->num_files() > 1) progress_->note("read " + file_);
      file_ = file;
    }
    progress_->add(src.nbytes(), file_);
  }
  // A per-expert weight viewing a stack; scales (int8) the rows [first, first + N) of `scales`.
  static LinearWeight expert_view(QuantKind kind, const Tensor& w, const Tensor& scales, int64_t first) {
    LinearWeight l = LinearWeight::dense(w);
    l.kind = kind;
    if (scales.defined()) l.weight_scale = scales.rows(first, first + w.size(0));
    return l;
  }

  Allocator& dev_;
  ModelWeights& out_;
  bool strided_only_;
  ProgressMeter* progress_;
  const Checkpoint* ck_;
  std::string file_;  // the checkpoint file being read
  std::map<std::pair<void*, std::string>, Tensor> seen_;
};

}  // namespace

ModelWeights upload_weights(const ModelConfig& config, const ModelWeights& host, Allocator& dev) {
  ModelWeights d = host.views();
  ProgressMeter progress("loading weights to the device", upload_bytes(host));
  Copier copier(dev, d, false, &progress, host.checkpoint.get());
  visit_weights(config, d, copier);
  progress.finish();
  return d;
}

ModelWeights pack_weights(const ModelConfig& config, ModelWeights host) {
  Copier copier(cpu_allocator(), host, true);
  visit_weights(config, host, copier);
  return host;
}

}  // namespace rotor
