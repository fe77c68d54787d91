// model/linear.h — the one home of the weight format on the model's side. A linear layer's
// input is made in the format its weight needs: float rows, or int8 rows quantised statically
// (W8A8Static) or per token (W8A8Dynamic, W8A8.md); a norm that feeds several linear layers
// writes int8 directly (Ops::rms_norm_quant) when they all share one static scale and offset.
// Model code calls these and never branches on QuantKind; a new weight format changes this
// file, the loader and the kernels, not the architectures. The reduction points of tensor
// parallelism end in such a norm, so they are here too: the communicator's fused all-reduce +
// residual + RMSNorm (+ int8) where it has one, else all_reduce_sum and the norm op. A norm and
// the one linear layer (or router) it feeds run as one op where the backend folds the norm into
// the layer's GEMM (Ops::folds_norm; a rank alone, at the reduction points); the residual
// stream then moves to the other of its two buffers (Residual).
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

// The residual stream's rows [T, H], in one of two buffers: buf[cur]. A norm updates it in place,
// or, folded into the GEMM after it (Ops::norm_linear), reads it from buf[cur] and writes the
// updated stream into buf[1 - cur], which then holds it (every block of that kernel reads the
// old rows). Which buffer holds it depends only on the step's rows and the weights, so a decode
// graph replays the same choice.
struct Residual {
  Tensor buf[2];  // buf[1] may be undefined (a step of more rows than it holds: no fold moves the stream)
  int cur = 0;
  const Tensor& h() const { return buf[cur]; }
};

// The rows a model's second residual buffer needs to hold: folds are for decode steps of a few
// rows (a GEMV's; on the GPU up to 4), and a step of more rows keeps the stream in the first.
constexpr int64_t kMaxFoldRows = 16;

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

  // A norm and the linear layers it feeds, each writing its columns of out in order: rms_norm of
  // the stream (partial undefined) or reduce_rms_norm (partial: a reduction point's rows) into x,
  // then (*this)(input, l, out's columns) for each l of `linears`, returning the input as those
  // do; or, where the backend folds the norm into the one layer's GEMM, Ops::norm_linear, which
  // moves the stream to the other buffer and leaves x unwritten (the input returned is empty).
  LinearInput norm_linears(const Tensor& partial, const Tensor& w, const Tensor& bias, float eps, Residual& h,
                           std::span<const LinearWeight> linears, const Tensor& x, const Tensor& out);
  // A norm and the MoE router it feeds: rms_norm or reduce_rms_norm (as norm_linears) into x,
  // then route(x, ...); or, folded, Ops::norm_route_experts, which writes x too (the experts
  // read it) and moves the stream.
  void norm_route(const Tensor& partial, const Tensor& w, const Tensor& bias, float eps, Residual& h,
                  const LinearWeight& router, int top_k, bool renormalize, const Tensor& x, const Tensor& logits,
                  const Tensor& topk_weights, const Tensor& topk_ids);

 private:
  // A [m, k] i8 view of the scratch.
  Tensor scratch(int64_t m, int64_t k) const;

  // The folded form of a norm before w, if the backend takes it: the stream read from h.h() and,
  // with a partial, written to the other buffer (a reduction point folds on a rank alone).
  std::optional<NormInput> fold(const Tensor& partial, const Tensor& w, const Tensor& bias, float eps,
                                const Residual& h, const LinearWeight& weight, const Tensor& x_out);

  // The static quantisation every consumer shares, if any.
  static std::optional<StaticQuant> shared_quant(std::span<const LinearWeight> consumers);

  Ops& ops_;
  Communicator& comm_;
  OwnedTensor xq_, xq_scales_;   // [max_rows, max_in] i8, [max_rows] f32
};

}  // namespace rotor
