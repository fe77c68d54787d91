// bench/op_profiler.cpp — OpProfiler: timing events around each forwarded op (op_profiler.h).
#include "bench/op_profiler.h"

#include "core/check.h"
#include "kernels/cuda/cuda_ops.h"

namespace rotor {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) ROTOR_FAIL("op profiler: CUDA {}: {}", what, cudaGetErrorString(e));
}

std::string weight_label(const char* op, const LinearWeight& w) {
  return std::string(op) + " " + std::to_string(w.out_features()) + "x" + std::to_string(w.in_features());
}

}  // namespace

OpProfiler::OpProfiler(Ops& inner) : inner_(inner), stream_(cuda_stream(inner)) {}

OpProfiler::~OpProfiler() {
  for (cudaEvent_t e : pool_) cudaEventDestroy(e);
}

cudaEvent_t OpProfiler::next_event() {
  if (used_ == pool_.size()) {
    cudaEvent_t e = nullptr;
    check(cudaEventCreate(&e), "create event");  // with timing
    pool_.push_back(e);
  }
  return pool_[used_++];
}

template <typename F>
void OpProfiler::timed(std::string label, F&& f) {
  bool on = mode_ == Mode::Eager;
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream_, &status), "capture status");
  const bool capturing = status == cudaStreamCaptureStatusActive;
  if (mode_ == Mode::Capture) on = capturing;
  if (!on) {
    f();
    return;
  }
  // Captured: event record nodes of the graph, recorded again at every replay.
  const unsigned flags = capturing ? cudaEventRecordExternal : cudaEventRecordDefault;
  Call c{std::move(label), next_event(), next_event()};
  check(cudaEventRecordWithFlags(c.begin, stream_, flags), "record");
  f();
  check(cudaEventRecordWithFlags(c.end, stream_, flags), "record");
  calls_.push_back(std::move(c));
}

std::vector<std::pair<std::string, double>> OpProfiler::times_us() const {
  std::vector<std::pair<std::string, double>> out;
  std::map<std::string, size_t> index;
  for (const Call& c : calls_) {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, c.begin, c.end), "elapsed time");
    auto [it, fresh] = index.emplace(c.label, out.size());
    if (fresh) out.emplace_back(c.label, 0.0);
    out[it->second].second += ms * 1e3;
  }
  return out;
}

void OpProfiler::embed_impl(const Tensor& ids, const Tensor& table, const Tensor& out) {
  timed("embed", [&] { inner_.embed(ids, table, out); });
}
void OpProfiler::embed_shard_impl(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) {
  timed("embed_shard", [&] { inner_.embed_shard(ids, table, first, out); });
}
void OpProfiler::rms_norm_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
                          const Tensor& residual) {
  timed(residual.defined() ? "rms_norm+residual" : "rms_norm", [&] { inner_.rms_norm(x, w, bias, eps, out, residual); });
}
void OpProfiler::qk_norm_rope_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                              const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                              const Tensor& q_out) {
  timed("qk_norm_rope", [&] { inner_.qk_norm_rope(qkv, q_norm_w, k_norm_w, eps, rope_cos_sin, batch, cache, q_out); });
}
void OpProfiler::attention_decode_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                                  const Tensor& out) {
  timed("attention_decode", [&] { inner_.attention_decode(q, cache, batch, scale, out); });
}
void OpProfiler::qk_norm_rope_attention_decode_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w,
                                                    float eps, const Tensor& rope_cos_sin, const AttentionBatch& batch,
                                                    const LayerKVCache& cache, float scale, const Tensor& q_scratch,
                                                    const Tensor& out) {
  timed("qk_norm_rope+attention_decode", [&] {
    inner_.qk_norm_rope_attention_decode(qkv, q_norm_w, k_norm_w, eps, rope_cos_sin, batch, cache, scale, q_scratch,
                                         out);
  });
}
void OpProfiler::attention_prefill_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                                   const Tensor& out) {
  timed("attention_prefill", [&] { inner_.attention_prefill(q, cache, batch, scale, out); });
}
void OpProfiler::gemm_impl(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  timed(weight_label("gemm", w), [&] { inner_.gemm(x, w, out); });
}
void OpProfiler::quant_static_impl(const Tensor& x, float scale, float offset, const Tensor& out) {
  timed("quant_static", [&] { inner_.quant_static(x, scale, offset, out); });
}
void OpProfiler::quant_per_token_impl(const Tensor& x, const Tensor& out, const Tensor& scales) {
  timed("quant_per_token", [&] { inner_.quant_per_token(x, out, scales); });
}
void OpProfiler::rms_norm_quant_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale,
                                float offset, const Tensor& out, const Tensor& residual) {
  timed(residual.defined() ? "rms_norm_quant+residual" : "rms_norm_quant",
        [&] { inner_.rms_norm_quant(x, w, bias, eps, scale, offset, out, residual); });
}
void OpProfiler::gemm_w8a8_impl(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) {
  timed(weight_label("gemm_w8a8", w), [&] { inner_.gemm_w8a8(x_q, x_scales, w, out); });
}
void OpProfiler::linear_w8a8_static_impl(const Tensor& x, const LinearWeight& w, const Tensor& xq,
                                         const Tensor& out) {
  timed(weight_label("linear_w8a8_static", w), [&] { inner_.linear_w8a8_static(x, w, xq, out); });
}
void OpProfiler::moe_route_impl(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
                           const Tensor& topk_ids) {
  timed("moe_route", [&] { inner_.moe_route(logits, top_k, renormalize, topk_weights, topk_ids); });
}
void OpProfiler::route_experts_impl(const Tensor& x, const LinearWeight& router, int top_k, bool renormalize,
                                    const Tensor& logits, const Tensor& topk_weights, const Tensor& topk_ids) {
  timed(weight_label("route_experts", router),
        [&] { inner_.route_experts(x, router, top_k, renormalize, logits, topk_weights, topk_ids); });
}
void OpProfiler::moe_experts_impl(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids,
                             const ExpertWeights& experts, const Tensor& out) {
  const bool int8 = experts.w13.defined() && experts.w13.dtype() == DType::I8;
  timed(int8 ? "moe_experts (W8A8)" : "moe_experts", [&] { inner_.moe_experts(x, topk_weights, topk_ids, experts, out); });
}
void OpProfiler::fill_random_impl(const Tensor& t, uint64_t seed, float mean, float std) {
  timed("fill_random", [&] { inner_.fill_random(t, seed, mean, std); });
}
void OpProfiler::sample_impl(const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids) {
  timed("sample", [&] { inner_.sample(logits, params, out_ids); });
}
void OpProfiler::apply_penalties_impl(const Tensor& logits, const PenaltyBatch& penalties) {
  timed("apply_penalties", [&] { inner_.apply_penalties(logits, penalties); });
}
void OpProfiler::mask_tokens_impl(const Tensor& logits, const Tensor& ids, const Tensor& start) {
  timed("mask_tokens", [&] { inner_.mask_tokens(logits, ids, start); });
}
void OpProfiler::apply_token_bitmask_impl(const Tensor& logits, const Tensor& bitmask, const Tensor& rows) {
  timed("apply_token_bitmask", [&] { inner_.apply_token_bitmask(logits, bitmask, rows); });
}
void OpProfiler::logprobs_impl(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob,
                          const Tensor& token_rank, const Tensor& top_ids, const Tensor& top_logprobs) {
  timed("logprobs", [&] { inner_.logprobs(logits, token_ids, token_logprob, token_rank, top_ids, top_logprobs); });
}
void OpProfiler::copy_tokens_impl(const Tensor& src, const Tensor& src_index, const Tensor& dst, const Tensor& dst_index) {
  timed("copy_tokens", [&] { inner_.copy_tokens(src, src_index, dst, dst_index); });
}

}  // namespace rotor
