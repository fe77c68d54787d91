// model/linear.cpp — format dispatch of linear layers: the activation quantisation each weight
// kind needs (quant_static / quant_per_token into a scratch, then gemm_w8a8), the fused
// norm + static quantisation when a norm's consumers share it, plain gemm for float weights.
#include "model/linear.h"

#include "core/check.h"

namespace rotor {
namespace {

// True when every part is W8A8 static with the same activation scale and offset.
bool shared_static_quant(std::span<const LinearWeight> parts) {
  for (const LinearWeight& p : parts)
    if (p.kind != QuantKind::W8A8Static || p.input_scale != parts[0].input_scale ||
        p.input_offset != parts[0].input_offset)
      return false;
  return !parts.empty();
}

}  // namespace

LinearFront::LinearFront(Ops& ops, bool quantized, int64_t max_rows, int64_t max_in) : ops_(ops) {
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
    ops_.quant_static(x, w.input_scale, w.input_offset, xq);
    ops_.gemm_w8a8(xq, Tensor{}, w, out);
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

LinearInput LinearFront::rms_norm(const Tensor& x, const Tensor& w, const Tensor& bias, float eps,
                                  const Tensor& residual, std::span<const LinearWeight> consumers, const Tensor& out) {
  LinearInput in;
  if (shared_static_quant(consumers)) {
    in.scale = consumers[0].input_scale;
    in.offset = consumers[0].input_offset;
    in.xq = scratch(x.size(0), x.size(1));
    ops_.rms_norm_quant(x, w, bias, eps, in.scale, in.offset, in.xq, residual);
  } else {
    ops_.rms_norm(x, w, bias, eps, out, residual);
    in.x = out;
  }
  return in;
}

}  // namespace rotor
