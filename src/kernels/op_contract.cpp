// kernels/op_contract.cpp — each op's argument contract (op_contract.h), one function per op.
#include "kernels/op_contract.h"

#include <cmath>

#include "core/arg_check.h"
#include "core/check.h"

namespace rotor::contract {
namespace {

constexpr DType F32 = DType::F32, I8 = DType::I8, I32 = DType::I32, I64 = DType::I64;
constexpr Layout kRows = Layout::Rows, kContiguous = Layout::Contiguous;
// What a KV cache may hold: the float types the ops write, or e4m3 (an FP8 cache, with scales).
constexpr DTypes kCacheDTypes = kFloatOut | DType::F8E4M3;
// |x_q| <= 128 and |W| <= 127: a K-long i32 sum cannot overflow while K * 128 * 127 < 2^31.
constexpr int64_t kMaxW8A8K = (int64_t{1} << 31) / (128 * 127);

struct Named {
  const char* name;
  const Tensor& t;
};

void on_device(const char* op, const Device& d, std::initializer_list<Named> args) {
  for (const Named& a : args) expect_on(op, a.name, a.t, d);
}

void expect_scale(const char* op, float scale, float offset) {
  ROTOR_CHECK(scale > 0.0f && std::isfinite(scale), "{}: scale must be a positive finite number, got {}", op, scale);
  ROTOR_CHECK(std::isfinite(offset), "{}: offset must be finite, got {}", op, offset);
}

void embed_args(const char* op, const Device& d, const Tensor& ids, const Tensor& table, const Tensor& out) {
  on_device(op, d, {{"ids", ids}, {"table", table}, {"out", out}});
  const int64_t T = ids.size(0), V = table.size(0), H = table.size(1);
  expect_tensor(op, "ids", ids, I32, kContiguous, {{"T", T}});
  expect_tensor(op, "table", table, kFloatIn, kRows, {{"V", V}, {"H", H}});
  expect_tensor(op, "out", out, kFloatOut, kRows, {{"T", T}, {"H", H}});
}

// The inputs of a norm: x [T, H], w [H], bias [H] (optional), residual [T, H] (optional; written).
void norm_args(const char* op, const Device& d, const Tensor& x, const Tensor& w, const Tensor& bias,
               const Tensor& out, const Tensor& residual) {
  on_device(op, d, {{"x", x}, {"w", w}, {"bias", bias}, {"out", out}, {"residual", residual}});
  const int64_t T = x.size(0), H = x.size(1);
  expect_tensor(op, "x", x, kFloatIn, kRows, {{"T", T}, {"H", H}});
  expect_vector(op, "w", w, kFloatIn, {"H", H});
  if (bias.defined()) expect_vector(op, "bias", bias, kFloatIn, {"H", H});
  if (residual.defined()) expect_tensor(op, "residual", residual, kFloatOut, kRows, {{"T", T}, {"H", H}});
}

// One paged KV cache [num_blocks, Hkv, block_size, head_dim]: K and V alike; an FP8 cache has
// its scales [2] f32 (K's, V's).
void cache_args(const char* op, const LayerKVCache& cache, int64_t block_size, int64_t head_dim) {
  const int64_t blocks = cache.k.size(0), Hkv = cache.k.size(1);
  expect_tensor(op, "cache.k", cache.k, kCacheDTypes, kContiguous,
                {{"num_blocks", blocks}, {"Hkv", Hkv}, {"block_size", block_size}, {"head_dim", head_dim}});
  expect_tensor(op, "cache.v", cache.v, cache.k.dtype(), kContiguous,
                {{"num_blocks", blocks}, {"Hkv", Hkv}, {"block_size", block_size}, {"head_dim", head_dim}});
  if (cache.fp8()) expect_vector(op, "cache.scales", cache.scales, F32, {"2 (K, V)", 2});
}

// Heads [T, heads, head_dim] whose heads lie back to back in each row.
void expect_heads(const char* op, const char* name, const Tensor& t, DTypes dtypes, Dim rows, int64_t heads,
                  int64_t head_dim) {
  expect_tensor(op, name, t, dtypes, kRows, {rows, {"Hq", heads}, {"head_dim", head_dim}});
  ROTOR_CHECK(t.stride(1) == head_dim, "{}: {}'s heads must lie back to back (stride(1) = head_dim = {}), got {}", op,
              name, head_dim, t.stride(1));
}

// A float GEMM's arguments: x [M, K], w [N, K] float (kind None), out [M, N] named out_name.
void gemm_args(const char* op, const char* out_name, const Device& d, const Tensor& x, const LinearWeight& w,
               const Tensor& out) {
  ROTOR_CHECK(!w.quantized(), "{}: the weight must be float (kind None; int8 weights go through gemm_w8a8), got {}",
              op, w.weight.str());
  on_device(op, d, {{"x", x}, {out_name, out}});
  const int64_t M = x.size(0), K = x.size(1);
  expect_tensor(op, "x", x, kFloatIn, kRows, {{"M", M}, {"K", K}});
  check_linear(op, w, w.out_features(), K, d);
  expect_tensor(op, out_name, out, kFloatOut, kRows, {{"M", M}, {"N", w.out_features()}});
}

// The router's top-k: logits [T, E] f32, top_k in [1, E], topk_weights [T, top_k] f32 and
// topk_ids [T, top_k] i32.
void route_args(const char* op, const Device& d, const Tensor& logits, int top_k, const Tensor& topk_weights,
                const Tensor& topk_ids) {
  on_device(op, d, {{"logits", logits}, {"topk_weights", topk_weights}, {"topk_ids", topk_ids}});
  const int64_t T = logits.size(0), E = logits.size(1);
  expect_tensor(op, "logits", logits, F32, kRows, {{"T", T}, {"E", E}});
  ROTOR_CHECK(top_k > 0 && top_k <= E, "{}: top_k must be in [1, E = {}], got {}", op, E, top_k);
  expect_tensor(op, "topk_weights", topk_weights, F32, kContiguous, {{"T", T}, {"top_k", top_k}});
  expect_tensor(op, "topk_ids", topk_ids, I32, kContiguous, {{"T", T}, {"top_k", top_k}});
}

// qk_norm_rope's arguments (op and q_name, q_out's name, name them in the errors).
void qk_norm_rope_args(const char* op, const char* q_name, const Device& d, const Tensor& qkv,
                       const Tensor& q_norm_w, const Tensor& k_norm_w, const Tensor& rope_cos_sin,
                       const AttentionBatch& batch, const LayerKVCache& cache, const Tensor& q_out) {
  on_device(op, d,
            {{"qkv", qkv}, {"q_norm_w", q_norm_w}, {"k_norm_w", k_norm_w}, {"rope_cos_sin", rope_cos_sin},
             {"batch.positions", batch.positions}, {"batch.slot_mapping", batch.slot_mapping}, {"cache.k", cache.k},
             {"cache.v", cache.v}, {"cache.scales", cache.scales}, {q_name, q_out}});
  const int64_t T = batch.num_tokens, Hq = q_out.size(1), hd = q_out.size(2), Hkv = cache.k.size(1);
  expect_heads(op, q_name, q_out, kFloatOut, {"T", T}, Hq, hd);
  ROTOR_CHECK(hd > 0 && hd % 2 == 0, "{}: head_dim must be even (NeoX RoPE rotates halves), got {}", op, hd);
  expect_tensor(op, "qkv", qkv, kFloatIn, kRows, {{"T", T}, {"(Hq + 2 Hkv) * head_dim", (Hq + 2 * Hkv) * hd}});
  expect_vector(op, "q_norm_w", q_norm_w, kFloatIn, {"head_dim", hd});
  expect_vector(op, "k_norm_w", k_norm_w, kFloatIn, {"head_dim", hd});
  expect_tensor(op, "rope_cos_sin", rope_cos_sin, F32, kContiguous,
                {{"max_pos", rope_cos_sin.size(0)}, {"head_dim", hd}});
  expect_vector(op, "batch.positions", batch.positions, I32, {"T", T});
  expect_vector(op, "batch.slot_mapping", batch.slot_mapping, I32, {"T", T});
  cache_args(op, cache, cache.k.size(2), hd);
}

}  // namespace

void check_linear(const char* op, const LinearWeight& w, int64_t N, int64_t K, const Device& d) {
  on_device(op, d, {{"weight", w.weight}, {"bias", w.bias}, {"deq_scale", w.deq_scale}, {"quant_bias", w.quant_bias},
                    {"weight_scale", w.weight_scale}});
  if (!w.quantized()) {
    expect_tensor(op, "weight", w.weight, kFloatIn, kRows, {{"N", N}, {"K", K}});
    if (w.bias.defined()) expect_vector(op, "bias", w.bias, kFloatIn, {"N", N});
    return;
  }
  expect_tensor(op, "weight", w.weight, I8, kContiguous, {{"N", N}, {"K", K}});
  ROTOR_CHECK(K < kMaxW8A8K, "{}: K must be below {} (exact i32 sums of int8 products), got {}", op, kMaxW8A8K, K);
  if (w.kind == QuantKind::W8A8Static) {
    expect_vector(op, "deq_scale", w.deq_scale, F32, {"N", N});
    if (w.quant_bias.defined()) expect_vector(op, "quant_bias", w.quant_bias, I32, {"N", N});
  } else {
    expect_vector(op, "weight_scale", w.weight_scale, F32, {"N", N});
  }
}

void check_embed(const Device& d, const Tensor& ids, const Tensor& table, const Tensor& out) {
  embed_args("embed", d, ids, table, out);
}

void check_embed_shard(const Device& d, const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) {
  embed_args("embed_shard", d, ids, table, out);
  ROTOR_CHECK(first >= 0, "embed_shard: first must be >= 0, got {}", first);
}

void check_rms_norm(const Device& d, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
                    const Tensor& residual) {
  norm_args("rms_norm", d, x, w, bias, out, residual);
  expect_tensor("rms_norm", "out", out, kFloatOut, kRows, {{"T", x.size(0)}, {"H", x.size(1)}});
}

void check_rms_norm_quant(const Device& d, const Tensor& x, const Tensor& w, const Tensor& bias, float scale,
                          float offset, const Tensor& out, const Tensor& residual) {
  norm_args("rms_norm_quant", d, x, w, bias, out, residual);
  expect_tensor("rms_norm_quant", "out", out, I8, kRows, {{"T", x.size(0)}, {"H", x.size(1)}});
  expect_scale("rms_norm_quant", scale, offset);
}

void check_qk_norm_rope(const Device& d, const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w,
                        const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                        const Tensor& q_out) {
  qk_norm_rope_args("qk_norm_rope", "q_out", d, qkv, q_norm_w, k_norm_w, rope_cos_sin, batch, cache, q_out);
}

void check_attention(const char* op, bool decode, const Device& d, const Tensor& q, const LayerKVCache& cache,
                     const AttentionBatch& b, const Tensor& out) {
  on_device(op, d,
            {{"q", q}, {"cache.k", cache.k}, {"cache.v", cache.v}, {"cache.scales", cache.scales}, {"out", out}, {"batch.query_start", b.query_start},
             {"batch.seq_lens", b.seq_lens}, {"batch.block_tables", b.block_tables}});
  ROTOR_CHECK(b.num_decode_seqs >= 0 && b.num_decode_seqs <= b.num_seqs && b.num_decode_seqs <= b.num_tokens,
              "{}: batch.num_decode_seqs must be in [0, min(num_seqs = {}, num_tokens = {})], got {}", op, b.num_seqs,
              b.num_tokens, b.num_decode_seqs);
  const Dim rows = decode ? Dim{"num_decode_seqs", b.num_decode_seqs}
                          : Dim{"num_tokens - num_decode_seqs", b.num_tokens - b.num_decode_seqs};
  const int64_t Hq = q.size(1), hd = q.size(2), Hkv = cache.k.size(1), S = b.num_seqs;
  expect_heads(op, "q", q, kFloatIn, rows, Hq, hd);
  expect_tensor(op, "out", out, kFloatOut, kRows, {rows, {"Hq * head_dim", Hq * hd}});
  cache_args(op, cache, b.block_size, hd);
  ROTOR_CHECK(Hkv > 0 && Hq % Hkv == 0,
              "{}: Hq must be a multiple of Hkv (grouped-query attention), got Hq = {}, Hkv = {}", op, Hq, Hkv);
  expect_vector(op, "batch.query_start", b.query_start, I32, {"num_seqs + 1", S + 1});
  expect_vector(op, "batch.seq_lens", b.seq_lens, I32, {"num_seqs", S});
  expect_tensor(op, "batch.block_tables", b.block_tables, I32, kContiguous,
                {{"num_seqs", S}, {"W", b.block_tables.size(1)}});
}

void check_qk_norm_rope_attention_decode(const Device& d, const Tensor& qkv, const Tensor& q_norm_w,
                                         const Tensor& k_norm_w, const Tensor& rope_cos_sin,
                                         const AttentionBatch& batch, const LayerKVCache& cache,
                                         const Tensor& q_scratch, const Tensor& out) {
  const char* op = "qk_norm_rope_attention_decode";
  ROTOR_CHECK(batch.num_tokens == batch.num_decode_seqs,
              "{}: every row must be a decode (batch.num_tokens = batch.num_decode_seqs), got {} tokens and {} "
              "decodes",
              op, batch.num_tokens, batch.num_decode_seqs);
  qk_norm_rope_args(op, "q_scratch", d, qkv, q_norm_w, k_norm_w, rope_cos_sin, batch, cache, q_scratch);
  check_attention(op, true, d, q_scratch, cache, batch, out);
}

void check_gemm(const Device& d, const Tensor& x, const LinearWeight& w, const Tensor& out) {
  gemm_args("gemm", "out", d, x, w, out);
}

void check_quant_static(const Device& d, const Tensor& x, float scale, float offset, const Tensor& out) {
  on_device("quant_static", d, {{"x", x}, {"out", out}});
  const int64_t T = x.size(0), K = x.size(1);
  expect_tensor("quant_static", "x", x, kFloatIn, kRows, {{"T", T}, {"K", K}});
  expect_tensor("quant_static", "out", out, I8, kRows, {{"T", T}, {"K", K}});
  expect_scale("quant_static", scale, offset);
}

void check_quant_per_token(const Device& d, const Tensor& x, const Tensor& out, const Tensor& scales) {
  on_device("quant_per_token", d, {{"x", x}, {"out", out}, {"scales", scales}});
  const int64_t T = x.size(0), K = x.size(1);
  expect_tensor("quant_per_token", "x", x, kFloatIn, kRows, {{"T", T}, {"K", K}});
  expect_tensor("quant_per_token", "out", out, I8, kRows, {{"T", T}, {"K", K}});
  expect_vector("quant_per_token", "scales", scales, F32, {"T", T});
}

void check_gemm_w8a8(const Device& d, const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w,
                     const Tensor& out) {
  ROTOR_CHECK(w.quantized(), "gemm_w8a8: the weight must be quantized (float weights go through gemm), got {}",
              w.weight.str());
  on_device("gemm_w8a8", d, {{"x_q", x_q}, {"x_scales", x_scales}, {"out", out}});
  const int64_t M = x_q.size(0), K = x_q.size(1);
  expect_tensor("gemm_w8a8", "x_q", x_q, I8, kContiguous, {{"M", M}, {"K", K}});
  check_linear("gemm_w8a8", w, w.out_features(), K, d);
  if (w.kind == QuantKind::W8A8Dynamic) expect_vector("gemm_w8a8", "x_scales", x_scales, F32, {"M", M});
  expect_tensor("gemm_w8a8", "out", out, kFloatOut, kRows, {{"M", M}, {"N", w.out_features()}});
}

void check_linear_w8a8_static(const Device& d, const Tensor& x, const LinearWeight& w, const Tensor& xq,
                              const Tensor& out) {
  ROTOR_CHECK(w.kind == QuantKind::W8A8Static, "linear_w8a8_static: the weight must be W8A8Static, got {}",
              w.weight.str());
  check_quant_static(d, x, w.input_scale, w.input_offset, xq);
  check_gemm_w8a8(d, xq, Tensor{}, w, out);
}

void check_moe_route(const Device& d, const Tensor& logits, int top_k, const Tensor& topk_weights,
                     const Tensor& topk_ids) {
  route_args("moe_route", d, logits, top_k, topk_weights, topk_ids);
}

void check_route_experts(const Device& d, const Tensor& x, const LinearWeight& router, int top_k, const Tensor& logits,
                         const Tensor& topk_weights, const Tensor& topk_ids) {
  gemm_args("route_experts", "logits", d, x, router, logits);
  route_args("route_experts", d, logits, top_k, topk_weights, topk_ids);
}

void check_moe_experts(const Device& d, const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids,
                       const ExpertWeights& ex, const Tensor& out) {
  on_device("moe_experts", d,
            {{"x", x}, {"topk_weights", topk_weights}, {"topk_ids", topk_ids}, {"out", out}, {"experts.w13", ex.w13},
             {"experts.w2", ex.w2}, {"experts.w13_scale", ex.w13_scale}, {"experts.w2_scale", ex.w2_scale}});
  const int64_t T = x.size(0), k = topk_ids.size(1);
  expect_tensor("moe_experts", "x", x, kFloatIn, kRows, {{"T", T}, {"H = experts.hidden", ex.hidden}});
  expect_tensor("moe_experts", "topk_ids", topk_ids, I32, kContiguous, {{"T", T}, {"top_k", k}});
  expect_tensor("moe_experts", "topk_weights", topk_weights, F32, kContiguous, {{"T", T}, {"top_k", k}});
  expect_tensor("moe_experts", "out", out, kFloatOut, kRows, {{"T", T}, {"H", ex.hidden}});
}

void check_fill_random(const Device& d, const Tensor& t) {
  expect_on("fill_random", "t", t, d);
  expect_vector("fill_random", "t", t, kFloatOut | DType::F8E4M3, {"numel", t.numel()});
}

void check_sample(const Device& d, const Tensor& logits, const SamplingBatch& p, const Tensor& out_ids) {
  const char* op = "sample";
  on_device(op, d,
            {{"logits", logits}, {"out_ids", out_ids}, {"temperature", p.temperature}, {"top_k", p.top_k},
             {"top_p", p.top_p}, {"min_p", p.min_p}, {"seed", p.seed}, {"counter", p.counter}});
  const int64_t S = logits.size(0), V = logits.size(1);
  expect_tensor(op, "logits", logits, F32, kRows, {{"S", S}, {"V", V}});
  expect_vector(op, "out_ids", out_ids, I32, {"S", S});
  expect_vector(op, "temperature", p.temperature, F32, {"S", S});
  expect_vector(op, "top_k", p.top_k, I32, {"S", S});
  expect_vector(op, "top_p", p.top_p, F32, {"S", S});
  expect_vector(op, "min_p", p.min_p, F32, {"S", S});
  expect_vector(op, "seed", p.seed, I64, {"S", S});
  expect_vector(op, "counter", p.counter, I64, {"S", S});
}

void check_apply_penalties(const Device& d, const Tensor& logits, const PenaltyBatch& p) {
  const char* op = "apply_penalties";
  on_device(op, d,
            {{"logits", logits}, {"repetition", p.repetition}, {"presence", p.presence}, {"frequency", p.frequency},
             {"prompt_tokens", p.prompt_tokens}, {"prompt_start", p.prompt_start},
             {"output_tokens", p.output_tokens}, {"output_start", p.output_start}});
  const int64_t S = logits.size(0), V = logits.size(1);
  expect_tensor(op, "logits", logits, F32, kRows, {{"S", S}, {"V", V}});
  expect_vector(op, "repetition", p.repetition, F32, {"S", S});
  expect_vector(op, "presence", p.presence, F32, {"S", S});
  expect_vector(op, "frequency", p.frequency, F32, {"S", S});
  expect_vector(op, "prompt_start", p.prompt_start, I32, {"S + 1", S + 1});
  expect_vector(op, "output_start", p.output_start, I32, {"S + 1", S + 1});
  if (p.prompt_tokens.numel() > 0)
    expect_vector(op, "prompt_tokens", p.prompt_tokens, I32, {"Np", p.prompt_tokens.numel()});
  if (p.output_tokens.numel() > 0)
    expect_vector(op, "output_tokens", p.output_tokens, I32, {"No", p.output_tokens.numel()});
}

void check_mask_tokens(const Device& d, const Tensor& logits, const Tensor& ids, const Tensor& start) {
  on_device("mask_tokens", d, {{"logits", logits}, {"ids", ids}, {"start", start}});
  const int64_t S = logits.size(0), V = logits.size(1);
  expect_tensor("mask_tokens", "logits", logits, F32, kRows, {{"S", S}, {"V", V}});
  expect_vector("mask_tokens", "start", start, I32, {"S + 1", S + 1});
  if (ids.numel() > 0) expect_vector("mask_tokens", "ids", ids, I32, {"N", ids.numel()});
}

void check_apply_token_bitmask(const Device& d, const Tensor& logits, const Tensor& bitmask, const Tensor& rows) {
  const char* op = "apply_token_bitmask";
  on_device(op, d, {{"logits", logits}, {"bitmask", bitmask}, {"rows", rows}});
  const int64_t S = logits.size(0), V = logits.size(1), N = rows.numel(), W = bitmask.size(1);
  expect_tensor(op, "logits", logits, F32, kRows, {{"S", S}, {"V", V}});
  expect_vector(op, "rows", rows, I32, {"N", N});
  if (N == 0) return;
  expect_tensor(op, "bitmask", bitmask, I32, kRows, {{"N", N}, {"W", W}});
  ROTOR_CHECK(W * 32 >= V, "{}: bitmask's W must be at least ceil(V / 32) = {} (a bit per token), got {}", op,
              (V + 31) / 32, W);
}

void check_logprobs(const Device& d, const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob,
                    const Tensor& token_rank, const Tensor& top_ids, const Tensor& top_logprobs) {
  const char* op = "logprobs";
  on_device(op, d,
            {{"logits", logits}, {"token_ids", token_ids}, {"token_logprob", token_logprob},
             {"token_rank", token_rank}, {"top_ids", top_ids}, {"top_logprobs", top_logprobs}});
  const int64_t S = logits.size(0), V = logits.size(1), K = top_ids.defined() ? top_ids.size(1) : 0;
  expect_tensor(op, "logits", logits, F32, kRows, {{"S", S}, {"V", V}});
  expect_vector(op, "token_ids", token_ids, I32, {"S", S});
  expect_vector(op, "token_logprob", token_logprob, F32, {"S", S});
  expect_vector(op, "token_rank", token_rank, I32, {"S", S});
  if (K == 0) return;
  ROTOR_CHECK(K <= V, "{}: top_ids' K must be at most V = {}, got {}", op, V, K);
  expect_tensor(op, "top_ids", top_ids, I32, kContiguous, {{"S", S}, {"K", K}});
  expect_tensor(op, "top_logprobs", top_logprobs, F32, kContiguous, {{"S", S}, {"K", K}});
}

void check_copy_tokens(const Device& d, const Tensor& src, const Tensor& src_index, const Tensor& dst,
                       const Tensor& dst_index) {
  on_device("copy_tokens", d, {{"src", src}, {"src_index", src_index}, {"dst", dst}, {"dst_index", dst_index}});
  const int64_t n = src_index.numel();
  expect_vector("copy_tokens", "src", src, I32, {"numel", src.numel()});
  expect_vector("copy_tokens", "dst", dst, I32, {"numel", dst.numel()});
  expect_vector("copy_tokens", "src_index", src_index, I32, {"n", n});
  expect_vector("copy_tokens", "dst_index", dst_index, I32, {"n", n});
}

}  // namespace rotor::contract
