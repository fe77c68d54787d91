// bench/op_profiler.h — OpProfiler: an Ops that forwards every op to a CUDA backend and puts
// a pair of timing events around each on its stream, labelled by op (and weight shape, for
// GEMMs), so a decode step's time can be split per kernel. Events recorded while the stream
// is captured become nodes of the CUDA graph (cudaEventRecordExternal) and are re-recorded on
// every replay: the runner's own decode graph, replayed as it runs, is what gets measured
// (each event node stops the next kernel from starting early, so the kernels' sum exceeds
// the graph's step by the overlap PDL gives). Eager mode records every op call instead.
#pragma once
#include <cuda_runtime.h>

#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace rotor {

class OpProfiler final : public Ops {
 public:
  enum class Mode { Off, Capture, Eager };
  explicit OpProfiler(Ops& inner);
  ~OpProfiler() override;

  // Capture: ops queued while the stream is being captured are labelled (a decode graph's
  // ops, once, when the graph is made); Eager: every op; Off: none.
  void set_mode(Mode m) { mode_ = m; }
  // Forgets the labelled calls; their events go back to the pool (so the graph that recorded
  // them, if any, must be gone).
  void clear() { used_ = 0, calls_.clear(); }
  // Microseconds of each label over the calls labelled so far, after the device has run them
  // (the last replay of a captured graph): summed over calls of the same label, in the order
  // labels first appear.
  std::vector<std::pair<std::string, double>> times_us() const;
  size_t calls() const { return calls_.size(); }

  Ops* wrapped() override { return &inner_; }
  Device device() const override { return inner_.device(); }
  DType act_dtype() const override { return inner_.act_dtype(); }
  Allocator& allocator() override { return inner_.allocator(); }
  void synchronize() override { inner_.synchronize(); }
  void make_current() override { inner_.make_current(); }
  Allocator& host_allocator() override { return inner_.host_allocator(); }
  void copy_async(void* dst, const void* src, size_t bytes) override { inner_.copy_async(dst, src, bytes); }
  void reserve(const OpLimits& limits) override { inner_.reserve(limits); }
  void prefetch_l2(const Tensor& t, double ratio) override { inner_.prefetch_l2(t, ratio); }
  std::unique_ptr<DeviceEvent> make_event() override { return inner_.make_event(); }
  int max_top_logprobs() const override { return inner_.max_top_logprobs(); }
  bool memory_info(size_t* free_bytes, size_t* total_bytes) override {
    return inner_.memory_info(free_bytes, total_bytes);
  }
  DecodeSplitParams decode_split_params(int q_heads, int kv_heads, int head_dim, bool kv_fp8) const override {
    return inner_.decode_split_params(q_heads, kv_heads, head_dim, kv_fp8);
  }


 protected:
  // Each op: the inner backend's (its contract checked again there), between two events.
  void embed_impl(const Tensor& ids, const Tensor& table, const Tensor& out) override;
  void embed_shard_impl(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) override;
  void rms_norm_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
                const Tensor& residual) override;
  void qk_norm_rope_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                    const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                    const Tensor& q_out) override;
  void attention_decode_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                        const Tensor& out) override;
  void attention_prefill_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                         const Tensor& out) override;
  void qk_norm_rope_attention_decode_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                                          const Tensor& rope_cos_sin, const AttentionBatch& batch,
                                          const LayerKVCache& cache, float scale, const Tensor& q_scratch,
                                          const Tensor& out) override;
  void gemm_impl(const Tensor& x, const LinearWeight& w, const Tensor& out) override;
  void quant_static_impl(const Tensor& x, float scale, float offset, const Tensor& out) override;
  void quant_per_token_impl(const Tensor& x, const Tensor& out, const Tensor& scales) override;
  void rms_norm_quant_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale, float offset,
                      const Tensor& out, const Tensor& residual) override;
  void gemm_w8a8_impl(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) override;
  void linear_w8a8_static_impl(const Tensor& x, const LinearWeight& w, const Tensor& xq, const Tensor& out) override;
  void moe_route_impl(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
                 const Tensor& topk_ids) override;
  void route_experts_impl(const Tensor& x, const LinearWeight& router, int top_k, bool renormalize,
                          const Tensor& logits, const Tensor& topk_weights, const Tensor& topk_ids) override;
  void moe_experts_impl(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids, const ExpertWeights& experts,
                   const Tensor& out) override;
  void fill_random_impl(const Tensor& t, uint64_t seed, float mean, float std) override;
  void sample_impl(const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids) override;
  void apply_penalties_impl(const Tensor& logits, const PenaltyBatch& penalties) override;
  void mask_tokens_impl(const Tensor& logits, const Tensor& ids, const Tensor& start) override;
  void apply_token_bitmask_impl(const Tensor& logits, const Tensor& bitmask, const Tensor& rows) override;
  void logprobs_impl(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob, const Tensor& token_rank,
                const Tensor& top_ids, const Tensor& top_logprobs) override;
  void copy_tokens_impl(const Tensor& src, const Tensor& src_index, const Tensor& dst, const Tensor& dst_index) override;

 private:
  struct Call {
    std::string label;
    cudaEvent_t begin, end;
  };
  // Runs f between two events when the mode says this call is labelled.
  template <typename F>
  void timed(std::string label, F&& f);
  cudaEvent_t next_event();

  Ops& inner_;
  cudaStream_t stream_;
  Mode mode_ = Mode::Off;
  std::vector<cudaEvent_t> pool_;
  size_t used_ = 0;
  std::vector<Call> calls_;
};

}  // namespace rotor
