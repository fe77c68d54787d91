// model/stack_qkv.h — a layer's q, k and v projections stacked into one weight, so that QKV is
// one GEMM launch instead of three (on one TP-8 rank of Qwen3-235B-A22B k and v are two 7.6 µs
// launches a layer for 0.5 MB each: docs/perf-log.md).
#pragma once
#include "model/weights.h"

namespace rotor {

// For each layer whose q/k/v parts are alike — one kind and weight dtype, contiguous weights of
// one input size, W8A8Static ones with one input scale and offset, each per-channel tensor
// (bias, deq_scale, quant_bias, weight_scale) present in every part or in none — makes
// L.qkv_fused [sum of N, K] on `dev` (the parts' rows in order, and their per-channel tensors
// likewise), points L.qkv at its row blocks and drops the buffers of w.owned that held exactly
// one of the parts' tensors, so the model holds one copy. Other layers keep three GEMMs.
// Returns the number of layers stacked.
int stack_qkv(ModelWeights& w, Allocator& dev);

// Whether load_model stacks on a GPU: yes unless ROTOR_STACK_QKV=0 in the environment (three
// GEMMs, for A/B measurement; 1 or unset: stack; any other value is a one-line error).
bool stack_qkv_enabled();

}  // namespace rotor
