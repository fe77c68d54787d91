// model/linear.cpp — format dispatch of linear layers: the activation quantisation each weight
// kind needs (linear_w8a8_static; quant_per_token into a scratch, then gemm_w8a8), the fused
// norm + static quantisation when a norm's consumers share it, plain gemm for float weights;
// the router (route_experts for a float weight); the reduction points (fused by the
// communicator when it can).
#include "model/linear.h"

#include "core/check.h"

namespace rotor {

// Some when every part is W8A8 static with the same activation scale and offset.
std::optional<StaticQuant> LinearFront::shared_quant(std::span<const LinearWeight> parts) {
  for (const LinearWeight& p : parts)
    if (p.kind != QuantKind::W8A8Static || p.input_scale != parts[0].input_scale ||
        p.input_offset != parts[0].input_offset)
      return std::nullopt;
  if (parts.empty()) return std::nullopt;
  return StaticQuant{parts[0].input_scale, parts[0].input_offset};
}

LinearFront::LinearFront(Ops& ops, Communicator& comm, bool quantized, int64_t max_rows, int64_t max_in)
    : ops_(ops), comm_(comm) {
  if (!quantized) return;
  xq_ = OwnedTensor(ops.allocator(), DType::I8, {max_rows, max_in});
  xq_scales_ = OwnedTensor(ops.allocator(), DType::F32, {max_rows});
}

Tensor LinearFront::scratch(int64_t m, int64_t k) const {
  ROTOR_CHECK(xq_.tensor.defined() && m <= xq_.tensor.size(0) && k <= xq_.tensor.size(1),
              "model: no int8 scratch for [{}, {}] activations", m, k);
  return xq_.buffer.as(DType::I8, {m, k});
}

void LinearFront::operator()(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  if (!w.quantized()) return ops_.gemm(x, w, out);
  const int64_t m = x.size(0);
  const Tensor xq = scratch(m, x.size(1));
  if (w.kind == QuantKind::W8A8Static) {
    ops_.linear_w8a8_static(x, w, xq, out);
  } else {
    const Tensor scales = xq_scales_.tensor.rows(0, m);
    ops_.quant_per_token(x, xq, scales);
    ops_.gemm_w8a8(xq, scales, w, out);
  }
}

void LinearFront::operator()(const LinearInput& in, const LinearWeight& w, const Tensor& out) {
  if (!in.xq.defined()) return (*this)(in.x, w, out);
  ROTOR_CHECK(w.kind == QuantKind::W8A8Static && w.input_scale == in.scale && w.input_offset == in.offset,
              "linear: the int8 input (scale {}, offset {}) does not fit the weight {}", in.scale, in.offset,
              w.weight.str());
  ops_.gemm_w8a8(in.xq, Tensor{}, w, out);
}

void LinearFront::route(const Tensor& x, const LinearWeight& w, int top_k, bool renormalize, const Tensor& logits,
                        const Tensor& topk_weights, const Tensor& topk_ids) {
  if (!w.quantized()) return ops_.route_experts(x, w, top_k, renormalize, logits, topk_weights, topk_ids);
  (*this)(x, w, logits);
  ops_.moe_route(logits, top_k, renormalize, topk_weights, topk_ids);
}

LinearInput LinearFront::rms_norm(const Tensor& x, const Tensor& w, const Tensor& bias, float eps,
                                  const Tensor& residual, std::span<const LinearWeight> consumers, const Tensor& out) {
  LinearInput in;
  if (const std::optional<StaticQuant> q = shared_quant(consumers)) {
    in.scale = q->scale;
    in.offset = q->offset;
    in.xq = scratch(x.size(0), x.size(1));
    ops_.rms_norm_quant(x, w, bias, eps, in.scale, in.offset, in.xq, residual);
  } else {
    ops_.rms_norm(x, w, bias, eps, out, residual);
    in.x = out;
  }
  return in;
}

LinearInput LinearFront::reduce_rms_norm(const Tensor& partial, const Tensor& w, const Tensor& bias, float eps,
                                         const Tensor& residual, std::span<const LinearWeight> consumers,
                                         const Tensor& out) {
  if (comm_.world_size() > 1) {
    const std::optional<StaticQuant> q = shared_quant(consumers);
    LinearInput in;
    if (q) {
      in.scale = q->scale;
      in.offset = q->offset;
      in.xq = scratch(partial.size(0), partial.size(1));
    } else {
      in.x = out;
    }
    if (comm_.all_reduce_rms_norm({partial, residual, w, bias, eps, q ? in.xq : out, q})) return in;
    comm_.all_reduce_sum(partial);
  }
  return rms_norm(partial, w, bias, eps, residual, consumers, out);
}

}  // namespace rotor
