// model/kv_scales.h — the per-layer K and V scales of an FP8 KV cache that a checkpoint may
// carry, under every name vLLM reads for a layer's attention P = "model.layers.L.self_attn"
// (its maybe_remap_kv_scale_name and the quantization configs' get_cache_scale):
//   P.k_scale, P.v_scale                          llm-compressor, Quark
//   P.k_proj.k_scale, P.v_proj.v_scale            NVIDIA ModelOpt
//   P.k_proj.output_scale, P.v_proj.output_scale  compressed-tensors, vLLM's fp8 format
//   P.kv_scale                                    the deprecated single scale (K's, copied to V)
// Each is one positive finite number (shape [] or [1], any float dtype).
#pragma once
#include <vector>

#include "model/safetensors.h"

namespace rotor {

struct KvScales {
  std::vector<float> k, v;  // [num_layers]; empty when the checkpoint has none at all
  int layers_found = 0;     // layers with a scale; the others get 1 (as vLLM)
};

// A layer with only one of K and V's scales (kv_scale, or one of a pair) uses it for both, as
// vLLM does; a malformed scale is an error naming its tensor.
KvScales read_kv_scales(const Checkpoint& ck, int num_layers);

}  // namespace rotor
