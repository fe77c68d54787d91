// model/linear.h — the one home of the weight format on the model's side. A linear layer's
// input is made in the format its weight needs: float rows, or int8 rows quantised statically
// (W8A8Static) or per token (W8A8Dynamic, W8A8.md); a norm that feeds several linear layers
// writes int8 directly (Ops::rms_norm_quant) when they all share one static scale and offset.
// Model code calls these and never branches on QuantKind; a new weight format changes this
// file, the loader and the kernels, not the architectures. The reduction points of tensor
// parallelism end in such a norm, so they are here too: the communicator's fused all-reduce +
// residual + RMSNorm (+ int8) where it has one, else all_reduce_sum and the norm op.
#pragma once
#include <cstdint>
#include <optional>
#include <span>

#include "comm/communicator.h"
#include "kernels/ops.h"

namespace rotor {

// The input rows [M, K] of one or more linear layers, in the format their weights share.
struct LinearInput {
  Tensor x;                   // float rows (undefined when only the int8 form was made)
  Tensor xq;                  // i8 rows quantised statically with (scale, offset), or undefined
  float scale = 1.0f, offset = 0.0f;
};

class LinearFront {
 public:
  // `quantized`: some weight is int8, so inputs of up to [max_rows, max_in] need an int8
  // scratch (and per-token scales); it is set aside here, never inside a step.
  LinearFront(Ops& ops, Communicator& comm, bool quantized, int64_t max_rows, int64_t max_in);

  // out [M, N] = x [M, K] . W^T (+ bias) for any weight kind; out may be a column slice.
  void operator()(const Tensor& x, const LinearWeight& w, const Tensor& out);
  void operator()(const LinearInput& in, const LinearWeight& w, const Tensor& out);

  // A MoE layer's router: logits [T, E] f32 = x [T, K] . W^T, then their top-k (Ops::moe_route:
  // topk_weights [T, k] f32, topk_ids [T, k] i32). A float weight goes to Ops::route_experts (one
  // kernel at small batches on the GPU); a quantized one through this front, then moe_route.
  void route(const Tensor& x, const LinearWeight& w, int top_k, bool renormalize, const Tensor& logits,
             const Tensor& topk_weights, const Tensor& topk_ids);

  // Ops::rms_norm (same residual semantics) writing what `consumers` read: int8 only when every
  // consumer is W8A8Static with the same scale and offset, else the float rows into `out`.
  LinearInput rms_norm(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& residual,
                       std::span<const LinearWeight> consumers, const Tensor& out);
  // A reduction point: residual [T, H] += the sum over ranks of partial [T, H] (clobbered),
  // then the norm of the residual in the consumers' format, as rms_norm.
  LinearInput reduce_rms_norm(const Tensor& partial, const Tensor& w, const Tensor& bias, float eps,
                              const Tensor& residual, std::span<const LinearWeight> consumers, const Tensor& out);

 private:
  // A [m, k] i8 view of the scratch.
  Tensor scratch(int64_t m, int64_t k) const;

  // The static quantisation every consumer shares, if any.
  static std::optional<StaticQuant> shared_quant(std::span<const LinearWeight> consumers);

  Ops& ops_;
  Communicator& comm_;
  OwnedTensor xq_, xq_scales_;   // [max_rows, max_in] i8, [max_rows] f32
};

}  // namespace rotor
