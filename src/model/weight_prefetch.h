// model/weight_prefetch.h — WeightPrefetch: the L2 weight prefetch of decode steps
// (docs/weight-prefetch.md; vllm-ascend's weight_prefetch_config), which a model applies
// through Ops::prefetch_l2.
#pragma once

namespace rotor {

// The shares (0..1) of each layer's weights pulled toward L2 ahead of their GEMMs, in steps
// whose tokens are all decodes and number at most max_batch (a decode graph's padded batch).
struct WeightPrefetch {
  double qkv = 0.0;   // attn.qkv: the q/k/v weights, issued before the layer's input norm
  double o = 0.0;     // attn.o: o_proj, issued after the q/k/v GEMM (behind QK-norm + RoPE and attention)
  int max_batch = 8;
  bool any() const { return qkv > 0.0 || o > 0.0; }
};

}  // namespace rotor
