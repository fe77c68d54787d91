// model/stack_qkv.cpp — stacking q/k/v into one weight after the weights are on their device.
#include "model/stack_qkv.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/check.h"

namespace rotor {
namespace {

// The per-channel tensors of a linear layer ([N] each; for_each_tensor's order), by address.
std::vector<Tensor*> channel_tensors(LinearWeight& w) {
  std::vector<Tensor*> out;
  for_each_tensor(w, [&](Tensor& t, const char*, bool per_channel) {
    if (per_channel) out.push_back(&t);
  });
  return out;
}

bool alike(std::vector<LinearWeight>& parts) {
  if (parts.size() < 2) return false;
  LinearWeight& first = parts[0];
  for (LinearWeight& p : parts) {
    if (p.kind != first.kind || !p.weight.defined() || p.weight.ndim() != 2 || !p.weight.is_contiguous() ||
        p.weight.dtype() != first.weight.dtype() || p.in_features() != first.in_features())
      return false;
    if (p.kind == QuantKind::W8A8Static && (p.input_scale != first.input_scale || p.input_offset != first.input_offset))
      return false;
    const std::vector<Tensor*> mine = channel_tensors(p), firsts = channel_tensors(first);
    for (size_t i = 0; i < mine.size(); ++i) {
      const Tensor &t = *mine[i], &f = *firsts[i];
      if (t.defined() != f.defined()) return false;
      if (t.defined() && (t.dtype() != f.dtype() || t.ndim() != 1 || t.size(0) != p.out_features() || !t.is_contiguous()))
        return false;
    }
  }
  return true;
}

class Stacker {
 public:
  Stacker(ModelWeights& w, Allocator& dev) : w_(w), dev_(dev) {}

  void stack(LayerWeights& L) {
    int64_t N = 0;
    for (const LinearWeight& p : L.qkv) N += p.out_features();
    LinearWeight fused = L.qkv[0];  // kind and input scale / offset (alike: the same in every part)
    fused.weight = allocate(fused.weight.dtype(), {N, fused.in_features()});
    const std::vector<Tensor*> whole = channel_tensors(fused);
    for (Tensor* t : whole)
      if (t->defined()) *t = allocate(t->dtype(), {N});
    std::vector<Tensor> parts_tensors;  // what the parts held before, to free
    int64_t row = 0;
    for (LinearWeight& p : L.qkv) {
      const int64_t n = p.out_features();
      LinearWeight view = p;
      view.weight = fused.weight.rows(row, row + n);
      copy(view.weight, p.weight);
      parts_tensors.push_back(p.weight);
      const std::vector<Tensor*> from = channel_tensors(p), to = channel_tensors(view);
      for (size_t i = 0; i < to.size(); ++i) {
        if (!from[i]->defined()) continue;
        *to[i] = whole[i]->narrow(0, row, n);
        copy(*to[i], *from[i]);
        parts_tensors.push_back(*from[i]);
      }
      p = view;
      row += n;
    }
    L.qkv_fused = fused;
    for (const Tensor& t : parts_tensors) release(t);
  }

 private:
  Tensor allocate(DType dtype, Shape shape) {
    Buffer b(dev_, static_cast<size_t>(shape.numel()) * dtype_size(dtype));
    Tensor t = b.as(dtype, shape);
    w_.owned.push_back(std::move(b));
    return t;
  }
  void copy(const Tensor& dst, const Tensor& src) { dev_.copy(dst.data(), src.data(), src.nbytes()); }
  // Frees the owned buffer that held exactly `t` (none when t views a checkpoint's mapping or
  // part of a larger buffer).
  void release(const Tensor& t) {
    std::vector<Buffer>& owned = w_.owned;
    owned.erase(std::remove_if(owned.begin(), owned.end(),
                               [&](const Buffer& b) { return b.data() == t.data() && b.size() == t.nbytes(); }),
                owned.end());
  }

  ModelWeights& w_;
  Allocator& dev_;
};

}  // namespace

int stack_qkv(ModelWeights& w, Allocator& dev) {
  Stacker stacker(w, dev);
  int stacked = 0;
  for (LayerWeights& L : w.layers) {
    if (L.qkv_fused.weight.defined() || !alike(L.qkv)) continue;
    stacker.stack(L);
    ++stacked;
  }
  return stacked;
}

bool stack_qkv_enabled() {
  const char* v = std::getenv("ROTOR_STACK_QKV");
  if (v == nullptr || *v == '\0') return true;
  const std::string s = v;
  ROTOR_CHECK(s == "0" || s == "1", "ROTOR_STACK_QKV={}: expected 0 or 1", s);
  return s == "1";
}

}  // namespace rotor
