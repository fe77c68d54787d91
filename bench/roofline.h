// bench/roofline.h — BENCHMARK.md's decode roofline as host arithmetic: the bytes one decode
// step must read (the weights of every expert the batch routes to, the dense weights, every
// sequence's KV cache) and the step time those bytes take at a measured copy bandwidth. The
// decode benchmarks print it beside each measured step; tests/bench/test_roofline.cpp checks it
// against the numbers BENCHMARK.md works out.
#pragma once
#include "kernels/ops.h"
#include "model/config.h"

namespace rotor {

struct DecodeRooflineCase {
  int batch = 1;               // sequences, one new token each
  double context = 16384;      // mean context of a sequence over the steps timed
  int world = 1;               // tensor-parallel ranks the model is split over: bytes over all of them
  double weight_bytes = 2;     // per element of the weights a W8A8 checkpoint quantises (q/k/v/o,
                               // experts): 2 for bf16, 1 for int8 (their f32 scales, < 0.5%, left out)
  double kv_bytes = 2;         // per element of the KV cache
};

struct DecodeBytes {
  double touched = 0;          // experts a layer's batch routes to, expected: E (1 - (1 - k / E)^B)
  double experts = 0;          // their gate, up and down weights over all layers
  double dense = 0;            // q/k/v/o (KV projections replicated past num_kv_heads ranks), every
                               // rank's router (bf16), lm_head (bf16)
  double kv = 0;               // K and V of every sequence, every layer (KV heads replicated likewise)
  double total() const { return experts + dense + kv; }
};

// Bytes over all ranks; divide by the GPUs they run on for one GPU's share.
DecodeBytes decode_step_bytes(const ModelConfig& config, const DecodeRooflineCase& c);

// The step time in ms of `bytes` at `bytes_per_s` (BENCHMARK.md: bytes / copy bandwidth).
inline double roofline_ms(double bytes, double bytes_per_s) { return bytes / bytes_per_s * 1e3; }

// The backend's device-to-device copy bandwidth (bytes read + written per second): the median
// of five 2 GiB copies, timed on the host (each copy is complete when it returns).
double measure_copy_bandwidth(Ops& ops);

}  // namespace rotor
