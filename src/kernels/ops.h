// kernels/ops.h — the backend-neutral op list. The model's forward pass is written once
// against this interface; kernels/cpu implements it as the reference, kernels/cuda on the GPU.
// Every tensor passed to an op lives on the backend's device. Activations are act_dtype()
// (f32 on the CPU, bf16 on the GPU); accumulation is always f32 (i32 for int8 products).
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/fp8.h"  // kKScaleRange, kVScaleRange
#include "core/tensor.h"
#include "kernels/decode_plan.h"

namespace rotor {

// Batch metadata of one forward call: many sequences at different positions. Sequences
// [0, num_decode_seqs) are decodes (one new token each) and come first; the rest are prefill
// chunks (a cached prefix plus new tokens). Int tensors are i32 on the backend's device.
struct AttentionBatch {
  int num_tokens = 0;         // T: new tokens in this step
  int num_seqs = 0;           // S
  int num_decode_seqs = 0;    // decodes first; num_decode_tokens == num_decode_seqs
  int max_query_len = 0;      // longest new-token count of a sequence
  int max_seq_len = 0;        // longest context (cached + new)
  int block_size = 16;        // tokens per KV block
  Tensor positions;           // [T] position of each new token
  Tensor slot_mapping;        // [T] KV slot (block * block_size + offset) of each new token; <0 = skip
  Tensor query_start;         // [S + 1] cumulative new-token counts (cu_seqlens_q)
  Tensor seq_lens;            // [S] context length after this step (cached + new)
  Tensor block_tables;        // [S, W] KV block ids of each sequence, row stride W (W: the step's longest table)
  // Optional: the decode rows' split plan (kernels/decode_plan.h, over num_decode_seqs rows);
  // undefined = the backend's fixed splits.
  Tensor decode_plan;
};

// The paged KV cache of one layer: K and V [num_blocks, num_kv_heads, block_size, head_dim] in
// act_dtype(), or F8E4M3 (an FP8 cache): then x is stored as e4m3(x / scale) (core/fp8.h:
// nearest, ties to even, saturating at ±448) and read as e4m3 * scale, with the layer's scales.
struct LayerKVCache {
  LayerKVCache() = default;
  LayerKVCache(Tensor k_, Tensor v_, Tensor scales_ = {}, bool calculate = false)
      : k(k_), v(v_), scales(scales_), calculate_scales(calculate) {}
  Tensor k;
  Tensor v;
  Tensor scales;                  // [2] f32 on the device: K's and V's scale (FP8 only)
  // FP8 only: qk_norm_rope first sets scales from this step's rows that it writes (vLLM's
  // --calculate-kv-scales): max|k| / kKScaleRange (k after norm and RoPE) and max|v| /
  // kVScaleRange; a maximum of 0 gives 1.
  bool calculate_scales = false;
  bool fp8() const { return k.dtype() == DType::F8E4M3; }
};

enum class QuantKind : uint8_t {
  None,         // weight in bf16/f32
  W8A8Static,   // int8 weight, per-tensor asymmetric static activation (docs/W8A8.md)
  W8A8Dynamic,  // int8 weight, per-token symmetric dynamic activation
};

// The weight of one linear layer y = x W^T (+ bias), W stored [N, K].
struct LinearWeight {
  QuantKind kind = QuantKind::None;
  Tensor weight;          // [N, K] bf16/f32, or i8 when quantized
  Tensor bias;            // [N] float, optional (undefined = none); float layers only
  // W8A8Static: x_q = clamp(rint(x / input_scale + input_offset), -128, 127);
  //             y = (x_q . W + quant_bias) * deq_scale
  float input_scale = 1.0f;
  float input_offset = 0.0f;
  Tensor deq_scale;       // [N] f32
  Tensor quant_bias;      // [N] i32, optional: undefined = 0 (under tensor parallelism only one
                          // rank of a row-parallel layer keeps it; the partial sums are all-reduced)
  // W8A8Dynamic: s_t = max|x_t| / 127; y = (rint(x / s_t) . W) * weight_scale * s_t
  Tensor weight_scale;    // [N] f32
  static LinearWeight dense(const Tensor& w) {
    LinearWeight l;
    l.weight = w;
    return l;
  }
  bool quantized() const { return kind != QuantKind::None; }
  int64_t out_features() const { return weight.size(0); }
  int64_t in_features() const { return weight.size(1); }
};

// One layer's routed experts: per-expert projections gate/up [I, H] and down [H, I], each
// float or quantized (W8A8Dynamic in W8A8 checkpoints).
struct ExpertWeights {
  int num_experts = 0;    // E: the experts held here
  // The router's id of expert 0 here: under expert parallelism a rank holds the experts
  // [first_expert, first_expert + E) of every layer; 0 otherwise.
  int first_expert = 0;
  int hidden = 0;         // H
  int inter = 0;          // I (moe_intermediate_size, per rank under TP)
  std::vector<LinearWeight> gate, up, down;
  // Optional stacked form of the same weights (the GPU backend needs it; gate/up/down are
  // then views into it): w13 [E, 2I, H], gate rows then up rows of each expert; w2 [E, H, I].
  // bf16, or i8 for W8A8Dynamic experts, whose weight_scale is stacked the same way:
  // w13_scale [E, 2I] and w2_scale [E, H] f32 (undefined for float experts).
  Tensor w13, w2;
  Tensor w13_scale, w2_scale;
};

// Per-sequence sampling parameters of one step (one logits row per sequence).
struct SamplingBatch {
  Tensor temperature;     // [S] f32; 0 = greedy (argmax, lowest id on ties)
  Tensor top_k;           // [S] i32; <= 0 = off
  Tensor top_p;           // [S] f32; >= 1 = off
  Tensor min_p;           // [S] f32; <= 0 = off
  Tensor seed;            // [S] i64 per-request random stream
  Tensor counter;         // [S] i64 index of the token being drawn in that stream
};

// The largest step the ops will be asked for, so a backend can set its scratch memory
// aside before the first step (the GPU backend allocates nothing inside a step).
struct OpLimits {
  int max_tokens = 0;         // new tokens in one forward
  int max_seqs = 0;           // sequences in one forward
  int max_model_len = 0;      // longest context
  int hidden = 0;             // H
  int q_heads = 0;            // Hq per rank
  int head_dim = 0;
  int num_experts = 0;
  int top_k = 0;
  int moe_inter = 0;          // I per rank
  int vocab = 0;              // logits row length (sampling)
};

// Per-row penalties of one step (vLLM's apply_penalties), one logits row per sequence. The
// token lists are ragged: row s's prompt tokens are prompt_tokens[prompt_start[s] ..
// prompt_start[s + 1]), likewise its output tokens. All on the backend's device.
struct PenaltyBatch {
  Tensor repetition;      // [S] f32; 1 = off
  Tensor presence;        // [S] f32; 0 = off
  Tensor frequency;       // [S] f32; 0 = off
  Tensor prompt_tokens;   // [Np] i32
  Tensor prompt_start;    // [S + 1] i32
  Tensor output_tokens;   // [No] i32 (tokens generated so far, repeats included)
  Tensor output_start;    // [S + 1] i32
};

// A point in a backend's queue of device work. The CPU backend's ops are done when they
// return, so there its events are always passed.
class DeviceEvent {
 public:
  virtual ~DeviceEvent() = default;
  // Marks the point after the work queued so far (on the GPU: on the backend's stream).
  virtual void record() {}
  // Blocks until the device has passed the last recorded point.
  virtual void wait() {}
};

// A backend. The ops (embed .. copy_tokens) are a non-virtual front: each checks its arguments
// once against the op's contract (kernels/op_contract.h: shapes, dtypes, layouts, devices;
// errors name the op, the argument and the property), then runs the backend's <op>_impl. Float
// inputs may be f32, f16 or bf16 and float outputs f32 or bf16 wherever the backend computes
// them (the model passes act_dtype()); a backend refuses what it cannot run, by name.
class Ops {
 public:
  virtual ~Ops() = default;
  virtual Device device() const = 0;
  virtual DType act_dtype() const = 0;
  // The backend this one forwards every op to, when it wraps one (bench/op_profiler.h); a
  // backend's own state (cuda_stream) is looked up through it.
  virtual Ops* wrapped() { return nullptr; }
  virtual Allocator& allocator() = 0;
  // Waits for all queued work (no-op on the CPU).
  virtual void synchronize() = 0;
  // Makes this backend's device the calling thread's current one (CUDA: cudaSetDevice), as a
  // thread that launches its work must before it does (a tensor-parallel rank's thread).
  virtual void make_current() {}
  // Host memory for staging copies (page-locked on the GPU, so copies can be asynchronous).
  virtual Allocator& host_allocator() { return cpu_allocator(); }
  // Copies bytes between host and device memory (either direction) after the work already
  // queued, without waiting for it (on the CPU: at once). synchronize() waits for it.
  virtual void copy_async(void* dst, const void* src, size_t bytes) { allocator().copy(dst, src, bytes); }
  // Sets scratch memory aside for steps up to `limits` (nothing on the CPU).
  virtual void reserve(const OpLimits& limits) { (void)limits; }
  // An event on this backend's queue of work (see DeviceEvent).
  virtual std::unique_ptr<DeviceEvent> make_event() { return std::make_unique<DeviceEvent>(); }
  // The most top log-probs per row that logprobs() gives.
  virtual int max_top_logprobs() const { return std::numeric_limits<int>::max(); }
  // A hint that changes no value: starts pulling the first `ratio` (0..1) of t's bytes (t
  // contiguous; at most the backend's L2 budget) toward the device's L2 cache and returns, so
  // that a kernel queued after the ops in between may read them from there (the L2 weight
  // prefetch, docs/weight-prefetch.md). Nothing on the CPU.
  virtual void prefetch_l2(const Tensor& t, double ratio) {
    (void)t;
    (void)ratio;
  }
  // Free and total bytes of device memory; false where there is no such budget (the CPU).
  virtual bool memory_info(size_t* free_bytes, size_t* total_bytes) {
    (void)free_bytes;
    (void)total_bytes;
    return false;
  }

  // out[t, :] = table[ids[t], :]. ids [T] i32, table [V, H], out [T, H] act_dtype.
  void embed(const Tensor& ids, const Tensor& table, const Tensor& out);

  // A vocabulary-parallel embedding's share: out[t, :] = table[ids[t] - first, :] for ids in
  // [first, first + V), zeros for the others (rows another rank holds); summed over the ranks,
  // the shares are embed() of the whole table. ids [T] i32, table [V, H], out [T, H] act_dtype.
  void embed_shard(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out);

  // With residual: residual += x, then out = rms_norm(residual) * w (+ bias).
  // Without: out = rms_norm(x) * w (+ bias). x, out, residual [T, H]; w, bias [H].
  void rms_norm(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
                const Tensor& residual);

  // qkv [T, (Hq + 2 Hkv) * hd]: per-head RMSNorm of q and k (weights [hd]), NeoX RoPE at
  // batch.positions with rope_cos_sin [max_pos, hd] (cos in [:hd/2], sin in [hd/2:]),
  // q into q_out [T, Hq, hd]; k and v into the cache at batch.slot_mapping (FP8: divided by the
  // layer's scales and rounded to e4m3, see LayerKVCache).
  void qk_norm_rope(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                    const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                    const Tensor& q_out);

  // Causal GQA attention over the paged cache (which already holds this step's k and v; FP8
  // caches read as e4m3 * scale).
  // q [T', Hq, hd] and out [T', Hq * hd] hold only the decode tokens (attention_decode:
  // T' = num_decode_seqs) or only the prefill tokens (attention_prefill: the rest, in order).
  void attention_decode(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch,
                        float scale, const Tensor& out);
  void attention_prefill(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch,
                         float scale, const Tensor& out);
  // A step whose rows are all decodes (batch.num_tokens == batch.num_decode_seqs) in one op:
  // qk_norm_rope(qkv, ..., q_scratch), then attention_decode(q_scratch, ..., out), with those
  // two ops' results (a backend may fuse them and leave q_scratch [T, Hq, hd] unwritten: the GPU
  // does unless ROTOR_FUSED_QK_ATTENTION=0). out [T, Hq * hd].
  void qk_norm_rope_attention_decode(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                                     const Tensor& rope_cos_sin, const AttentionBatch& batch,
                                     const LayerKVCache& cache, float scale, const Tensor& q_scratch,
                                     const Tensor& out);
  // What this backend's attention_decode fills the device with, for the split planner: the
  // items (a sequence's split of one KV head group) that make one wave, and the longest split
  // (its fixed one), and whether runners plan by default; kv_fp8: for an e4m3 cache (whose
  // kernel may fit more per SM). A runner that plans (RunnerOptions::decode_splits) sends every
  // step's plan in AttentionBatch::decode_plan.
  virtual DecodeSplitParams decode_split_params(int q_heads, int kv_heads, int head_dim, bool kv_fp8) const = 0;

  // out [M, N] = x [M, K] . W^T (+ bias) for a float weight (kind None); out may be a column
  // slice (row stride > N) and f32 or act_dtype. Quantized weights go through gemm_w8a8.
  void gemm(const Tensor& x, const LinearWeight& w, const Tensor& out);

  // --- W8A8 (docs: ../shared/docs/W8A8.md). rint rounds half to even; the CPU computes the
  // quotient x / scale in double, as the reference does.
  // Static per-tensor asymmetric activation quantisation:
  // out [T, K] i8 = clamp(rint(x / scale + offset), -128, 127); x [T, K] act_dtype (may be strided).
  void quant_static(const Tensor& x, float scale, float offset, const Tensor& out);
  // Per-token symmetric quantisation: scales [T] f32 = max(max_k |x[t, k]| / 127, 1e-12),
  // out [T, K] i8 = rint(x[t, k] / scales[t]) (within [-127, 127] by construction).
  void quant_per_token(const Tensor& x, const Tensor& out, const Tensor& scales);
  // rms_norm (same residual semantics) fused with quant_static: out [T, H] i8 is the quantised
  // norm output; the float output is never written. For the norm before q/k/v, which share
  // one input_scale / input_offset.
  void rms_norm_quant(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale,
                      float offset, const Tensor& out, const Tensor& residual);
  // int8 GEMM, exact i32 sums acc[m, n] = sum_k x_q[m, k] * W[n, k], then the epilogue of w.kind:
  //   W8A8Static:  out = (acc + quant_bias[n]) * deq_scale[n]          (x_scales unused)
  //   W8A8Dynamic: out = acc * weight_scale[n] * x_scales[m]            (x_scales [M] f32)
  // x_q [M, K] i8 contiguous, w.weight [N, K] i8; out [M, N] f32 or act_dtype, may be a column
  // slice. The CPU evaluates the epilogue in double.
  void gemm_w8a8(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out);
  // A W8A8Static linear on float activations in one op: quant_static(x, w.input_scale,
  // w.input_offset, xq), then gemm_w8a8(xq, {}, w, out), with those two ops' results (a backend
  // may quantise inside the GEMM and leave xq unwritten: the GPU does at GEMV rows).
  // x [M, K] act_dtype (may be strided); xq [M, K] i8 scratch; out as gemm_w8a8's.
  void linear_w8a8_static(const Tensor& x, const LinearWeight& w, const Tensor& xq, const Tensor& out);

  // Router: softmax over experts, top-k, optional renormalisation of the k weights.
  // logits [T, E] f32 -> topk_weights [T, k] f32, topk_ids [T, k] i32 (ties: lower id first).
  void moe_route(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
                 const Tensor& topk_ids);

  // A MoE layer's router in one op: gemm(x, router, logits), then moe_route(logits, top_k,
  // renormalize, topk_weights, topk_ids), with those two ops' results (a backend may run them
  // as one kernel: the GPU does at 1-2 rows). x [T, K]; router float [E, K]; logits [T, E] f32.
  void route_experts(const Tensor& x, const LinearWeight& router, int top_k, bool renormalize, const Tensor& logits,
                     const Tensor& topk_weights, const Tensor& topk_ids);

  // out[t] = sum_j topk_weights[t, j] * down_e(silu(gate_e(x_t)) * up_e(x_t)), e = topk_ids[t, j],
  // over the ids held here (e - experts.first_expert in [0, num_experts)): the others add
  // nothing (expert parallelism sums the ranks' outputs). x, out [T, H]. Experts with no
  // token are not read. A quantized projection quantises its
  // input as its kind says: W8A8Dynamic quantises x per token for gate and up, and
  // silu(gate) * up (f32) per token again for down.
  void moe_experts(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids,
                   const ExpertWeights& experts, const Tensor& out);

  // Fills t (any float dtype) with mean + std * N(0,1)-like noise (sum of four uniforms),
  // element i from hash(seed, i): the same values on every backend. For dummy weights (and
  // e4m3 KV caches: rounded as core/fp8.h).
  void fill_random(const Tensor& t, uint64_t seed, float mean, float std);

  // Draws one token per row of logits [S, V] f32 into out_ids [S] i32: greedy when
  // temperature is 0, else top-k / top-p / min-p filtering of softmax(logits / temperature)
  // and a Gumbel-max draw whose noise is hash(seed, counter, token): reproducible per request.
  void sample(const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids);

  // In place on logits [S, V] f32, per row s: each distinct token of the prompt or the output
  // becomes l > 0 ? l / repetition[s] : l * repetition[s]; then each distinct token with count
  // c > 0 in the output loses frequency[s] * c + presence[s]. Repeats in the prompt count once.
  void apply_penalties(const Tensor& logits, const PenaltyBatch& penalties);

  // logits[s, ids[j]] = -inf for j in [start[s], start[s + 1]): tokens a row may not sample
  // (eos and stop ids before min_tokens). logits [S, V] f32, ids [N] i32, start [S + 1] i32.
  void mask_tokens(const Tensor& logits, const Tensor& ids, const Tensor& start);

  // Grammar masks (structured outputs): for i < N, logits[rows[i], t] = -inf where bit t % 32
  // of bitmask[i, t / 32] is 0. logits [S, V] f32, bitmask [N, W] i32 (W >= ceil(V / 32), bits
  // as unsigned), rows [N] i32 (distinct, in [0, S)).
  void apply_token_bitmask(const Tensor& logits, const Tensor& bitmask, const Tensor& rows);

  // From log_softmax(logits) of logits [S, V] f32, per row s: token_logprob[s] and
  // token_rank[s] (1 + the number of tokens with a strictly larger logit) of token_ids[s],
  // and the K = top_ids.size(1) most likely tokens, best first (ties: lower id first).
  // token_ids [S] i32, token_logprob [S] f32, token_rank [S] i32, top_ids [S, K] i32,
  // top_logprobs [S, K] f32; with K = 0 the top tensors may be undefined.
  void logprobs(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob,
                const Tensor& token_rank, const Tensor& top_ids, const Tensor& top_logprobs);

  // dst[dst_index[i]] = src[src_index[i]] for i < src_index.numel() (= dst_index.numel()); all
  // i32. Fills the tokens of a step that the host does not know yet (async scheduling's
  // placeholders) from the ids the previous step sampled, without waiting for them.
  void copy_tokens(const Tensor& src, const Tensor& src_index, const Tensor& dst, const Tensor& dst_index);

 protected:
  // The backend's ops, called by the front above once the arguments have passed the contract
  // (kernels/op_contract.h); a backend checks only its own limits.
  virtual void embed_impl(const Tensor& ids, const Tensor& table, const Tensor& out) = 0;
  virtual void embed_shard_impl(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) = 0;
  virtual void rms_norm_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
      const Tensor& residual) = 0;
  virtual void qk_norm_rope_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
      const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
      const Tensor& q_out) = 0;
  virtual void attention_decode_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch,
      float scale, const Tensor& out) = 0;
  virtual void attention_prefill_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch,
      float scale, const Tensor& out) = 0;
  // By default the two ops' impls, one after the other.
  virtual void qk_norm_rope_attention_decode_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w,
      float eps, const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache, float scale,
      const Tensor& q_scratch, const Tensor& out);
  virtual void gemm_impl(const Tensor& x, const LinearWeight& w, const Tensor& out) = 0;
  virtual void quant_static_impl(const Tensor& x, float scale, float offset, const Tensor& out) = 0;
  virtual void quant_per_token_impl(const Tensor& x, const Tensor& out, const Tensor& scales) = 0;
  virtual void rms_norm_quant_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale,
      float offset, const Tensor& out, const Tensor& residual) = 0;
  virtual void gemm_w8a8_impl(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) = 0;
  virtual void linear_w8a8_static_impl(const Tensor& x, const LinearWeight& w, const Tensor& xq, const Tensor& out) = 0;
  virtual void moe_route_impl(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
      const Tensor& topk_ids) = 0;
  virtual void route_experts_impl(const Tensor& x, const LinearWeight& router, int top_k, bool renormalize,
      const Tensor& logits, const Tensor& topk_weights, const Tensor& topk_ids) = 0;
  virtual void moe_experts_impl(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids,
      const ExpertWeights& experts, const Tensor& out) = 0;
  virtual void fill_random_impl(const Tensor& t, uint64_t seed, float mean, float std) = 0;
  virtual void sample_impl(const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids) = 0;
  virtual void apply_penalties_impl(const Tensor& logits, const PenaltyBatch& penalties) = 0;
  virtual void mask_tokens_impl(const Tensor& logits, const Tensor& ids, const Tensor& start) = 0;
  virtual void apply_token_bitmask_impl(const Tensor& logits, const Tensor& bitmask, const Tensor& rows) = 0;
  virtual void logprobs_impl(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob,
      const Tensor& token_rank, const Tensor& top_ids, const Tensor& top_logprobs) = 0;
  virtual void copy_tokens_impl(const Tensor& src, const Tensor& src_index, const Tensor& dst,
      const Tensor& dst_index) = 0;
};

// The CPU reference backend (always built). num_threads > 0: the OpenMP threads of each op
// run on a thread that called make_current() (CPU ranks split the cores between them); 0:
// OpenMP's default.
std::unique_ptr<Ops> make_cpu_ops(int num_threads = 0);

}  // namespace rotor
