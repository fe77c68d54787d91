// tests/kernels/test_op_contract.cpp — Ops's front on the CPU backend: a valid call of every
// op passes, and each contract check (kernels/op_contract.cpp) fires on one broken argument
// with its own message, naming the op, the argument and the property.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <string>

#include "kernels/ops.h"

namespace rotor {
namespace {

// Small valid arguments of every op: T = 3 tokens, H = 16, vocabulary V = 10, a gemm N = 8,
// E = 4 experts of I = 8 with top-2, Hq = 2 heads over Hkv = 1 of head_dim 4, a cache of two
// blocks of 4, S = 2 sequences (a decode and a two-token prefill), sampling over 10 tokens.
class OpContract : public ::testing::Test {
 protected:
  std::unique_ptr<Ops> ops = make_cpu_ops();
  std::deque<OwnedTensor> store;

  Tensor make(DType dtype, Shape shape) {
    store.emplace_back(cpu_allocator(), dtype, shape);
    Tensor t = store.back().tensor;
    if (t.nbytes() > 0) std::memset(t.data(), 0, t.nbytes());
    return t;
  }
  Tensor i32(std::vector<int32_t> v, Shape shape) {
    Tensor t = make(DType::I32, shape);
    std::copy(v.begin(), v.end(), t.data<int32_t>());
    return t;
  }
  Tensor ones(Shape shape) {
    Tensor t = make(DType::F32, shape);
    std::fill_n(t.data<float>(), t.numel(), 1.0f);
    return t;
  }
  static Tensor on_gpu(const Tensor& t) { return Tensor(t.data(), t.dtype(), t.shape(), {DeviceType::CUDA, 0}); }
  // Columns [0, n) of a wider tensor: rows that are not contiguous.
  Tensor strided(DType dtype, int64_t rows, int64_t n) { return make(dtype, {rows, 2 * n}).narrow(1, 0, n); }

  const DType F32 = DType::F32, BF16 = DType::BF16, I8 = DType::I8, I32 = DType::I32, I64 = DType::I64;
  Tensor ids = i32({1, 2, 3}, {3}), table = make(F32, {10, 16}), x = make(F32, {3, 16}), out = make(F32, {3, 16});
  Tensor w = ones({16}), residual = make(F32, {3, 16}), xq = make(I8, {3, 16});
  Tensor qkv = make(F32, {3, 16}), qn = ones({4}), kn = ones({4}), rope = make(F32, {8, 4});
  Tensor kc = make(F32, {2, 1, 4, 4}), vc = make(F32, {2, 1, 4, 4}), q = make(F32, {3, 2, 4});
  Tensor attn = make(F32, {3, 8});
  AttentionBatch batch = [&] {
    AttentionBatch b;
    b.num_tokens = 3;
    b.num_seqs = 2;
    b.num_decode_seqs = 1;
    b.block_size = 4;
    b.positions = i32({0, 1, 2}, {3});
    b.slot_mapping = i32({0, 1, 5}, {3});
    b.query_start = i32({0, 1, 3}, {3});
    b.seq_lens = i32({2, 2}, {2});
    b.block_tables = i32({0, 1}, {2, 1});
    return b;
  }();
  AttentionBatch decodes = [&] {  // both sequences decoding their second token
    AttentionBatch b = batch;
    b.num_tokens = b.num_decode_seqs = 2;
    b.positions = i32({1, 1}, {2});
    b.slot_mapping = i32({1, 5}, {2});
    b.query_start = i32({0, 1, 2}, {3});
    return b;
  }();
  LinearWeight dense = LinearWeight::dense(make(F32, {8, 16}));
  Tensor gemm_out = make(F32, {3, 8});
  LinearWeight w8_static = [&] {
    LinearWeight l;
    l.kind = QuantKind::W8A8Static;
    l.weight = make(I8, {8, 16});
    l.deq_scale = ones({8});
    return l;
  }();
  LinearWeight w8_dynamic = [&] {
    LinearWeight l = w8_static;
    l.kind = QuantKind::W8A8Dynamic;
    l.deq_scale = Tensor{};
    l.weight_scale = ones({8});
    return l;
  }();
  Tensor x_scales = ones({3});
  Tensor router = make(F32, {3, 4}), topk_w = ones({3, 2}), topk_ids = i32({0, 1, 2, 3, 1, 2}, {3, 2});
  LinearWeight router_w = LinearWeight::dense(make(F32, {4, 16}));  // route_experts: E = 4 of H = 16
  ExpertWeights experts = [&] {
    ExpertWeights e;
    e.num_experts = 4;
    e.hidden = 16;
    e.inter = 8;
    for (int i = 0; i < 4; ++i) {
      e.gate.push_back(LinearWeight::dense(make(F32, {8, 16})));
      e.up.push_back(LinearWeight::dense(make(F32, {8, 16})));
      e.down.push_back(LinearWeight::dense(make(F32, {16, 8})));
    }
    return e;
  }();
  Tensor logits = make(F32, {2, 10}), sampled = make(I32, {2});
  SamplingBatch sampling{ones({2}), i32({0, 0}, {2}), ones({2}), make(F32, {2}), make(I64, {2}), make(I64, {2})};
  PenaltyBatch penalties{ones({2}),       make(F32, {2}),  make(F32, {2}),        i32({3}, {1}),
                         i32({0, 1, 1}, {3}), make(I32, {0}), i32({0, 0, 0}, {3})};
  Tensor mask_ids = i32({2}, {1}), mask_start = i32({0, 1, 1}, {3});
  Tensor bitmask = i32({-1}, {1, 1}), bitmask_rows = i32({1}, {1});
  Tensor token_ids = i32({1, 2}, {2}), token_lp = make(F32, {2}), token_rank = make(I32, {2});
  Tensor top_ids = make(I32, {2, 3}), top_lp = make(F32, {2, 3});
  Tensor src = make(I32, {4}), src_index = i32({0, 1}, {2}), dst = make(I32, {4}), dst_index = i32({2, 3}, {2});
};

TEST_F(OpContract, ValidCallsPass) {
  ops->embed(ids, table, out);
  ops->embed_shard(ids, table, 5, out);
  ops->rms_norm(x, w, Tensor{}, 1e-6f, out, residual);
  ops->rms_norm_quant(x, w, w, 1e-6f, 0.5f, 1.0f, xq, Tensor{});
  ops->qk_norm_rope(qkv, qn, kn, 1e-6f, rope, batch, {kc, vc}, q);
  ops->attention_decode(q.rows(0, 1), {kc, vc}, batch, 0.5f, attn.rows(0, 1));
  ops->attention_prefill(q.rows(1, 3), {kc, vc}, batch, 0.5f, attn.rows(1, 3));
  ops->qk_norm_rope_attention_decode(qkv.rows(0, 2), qn, kn, 1e-6f, rope, decodes, {kc, vc}, 0.5f, q.rows(0, 2),
                                     attn.rows(0, 2));
  ops->gemm(x, dense, gemm_out);
  ops->quant_static(x, 0.5f, 1.0f, xq);
  ops->quant_per_token(x, xq, x_scales);
  ops->gemm_w8a8(xq, Tensor{}, w8_static, gemm_out);
  ops->gemm_w8a8(xq, x_scales, w8_dynamic, gemm_out);
  ops->moe_route(router, 2, true, topk_w, topk_ids);
  ops->route_experts(x, router_w, 2, true, router, topk_w, topk_ids);
  ops->moe_experts(x, topk_w, topk_ids, experts, out);
  ops->fill_random(make(F32, {4}), 1, 0.0f, 1.0f);
  ops->sample(logits, sampling, sampled);
  ops->apply_penalties(logits, penalties);
  ops->mask_tokens(logits, mask_ids, mask_start);
  ops->apply_token_bitmask(logits, bitmask, bitmask_rows);
  ops->logprobs(logits, token_ids, token_lp, token_rank, top_ids, top_lp);
  ops->copy_tokens(src, src_index, dst, dst_index);
}

TEST_F(OpContract, EachCheckNamesTheOpTheArgumentAndTheProperty) {
  struct Case {
    std::string message;
    std::function<void()> call;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const LayerKVCache cache{kc, vc};
  const std::vector<Case> cases = {
      // embed, embed_shard
      {"embed: ids must be on cpu (the backend's device), got I32[3] cuda:0",
       [&] { ops->embed(on_gpu(ids), table, out); }},
      {"embed: ids must be I32 contiguous [T] = [3], got F32[3] cpu", [&] { ops->embed(make(F32, {3}), table, out); }},
      {"embed: table must be F32, F16 or BF16 with unit-stride rows [V, H] = [10, 16], got I32[10, 16] cpu",
       [&] { ops->embed(ids, make(I32, {10, 16}), out); }},
      {"embed: out must be F32 or BF16 with unit-stride rows [T, H] = [3, 16], got F32[3, 8] cpu",
       [&] { ops->embed(ids, table, make(F32, {3, 8})); }},
      {"embed_shard: first must be >= 0, got -1", [&] { ops->embed_shard(ids, table, -1, out); }},
      // rms_norm, rms_norm_quant
      {"rms_norm: x must be F32, F16 or BF16 with unit-stride rows [T, H] = [3, 16], got I8[3, 16] cpu",
       [&] { ops->rms_norm(xq, w, Tensor{}, 1e-6f, out, Tensor{}); }},
      {"rms_norm: w must be F32, F16 or BF16 contiguous [H] = [16], got F32[8] cpu",
       [&] { ops->rms_norm(x, ones({8}), Tensor{}, 1e-6f, out, Tensor{}); }},
      {"rms_norm: bias must be F32, F16 or BF16 contiguous [H] = [16], got I32[16] cpu",
       [&] { ops->rms_norm(x, w, make(I32, {16}), 1e-6f, out, Tensor{}); }},
      {"rms_norm: residual must be F32 or BF16 with unit-stride rows [T, H] = [3, 16], got F32[2, 16] cpu",
       [&] { ops->rms_norm(x, w, Tensor{}, 1e-6f, out, make(F32, {2, 16})); }},
      {"rms_norm: out must be on cpu (the backend's device), got F32[3, 16] cuda:0",
       [&] { ops->rms_norm(x, w, Tensor{}, 1e-6f, on_gpu(out), Tensor{}); }},
      {"rms_norm: out must be F32 or BF16 with unit-stride rows [T, H] = [3, 16], got I8[3, 16] cpu",
       [&] { ops->rms_norm(x, w, Tensor{}, 1e-6f, xq, Tensor{}); }},
      {"rms_norm_quant: out must be I8 with unit-stride rows [T, H] = [3, 16], got F32[3, 16] cpu",
       [&] { ops->rms_norm_quant(x, w, Tensor{}, 1e-6f, 0.5f, 1.0f, out, Tensor{}); }},
      {"rms_norm_quant: scale must be a positive finite number, got 0",
       [&] { ops->rms_norm_quant(x, w, Tensor{}, 1e-6f, 0.0f, 1.0f, xq, Tensor{}); }},
      {"rms_norm_quant: offset must be finite, got nan",
       [&] { ops->rms_norm_quant(x, w, Tensor{}, 1e-6f, 0.5f, nan, xq, Tensor{}); }},
      // qk_norm_rope
      {"qk_norm_rope: q_out must be F32 or BF16 with unit-stride rows [T, Hq, head_dim] = [3, 2, 4], got F32[2, 2, "
       "4] cpu",
       [&] { ops->qk_norm_rope(qkv, qn, kn, 1e-6f, rope, batch, cache, make(F32, {2, 2, 4})); }},
      {"qk_norm_rope: q_out's heads must lie back to back (stride(1) = head_dim = 4), got 8",
       [&] { ops->qk_norm_rope(qkv, qn, kn, 1e-6f, rope, batch, cache, make(F32, {3, 2, 8}).narrow(2, 0, 4)); }},
      {"qk_norm_rope: head_dim must be even (NeoX RoPE rotates halves), got 3",
       [&] { ops->qk_norm_rope(qkv, qn, kn, 1e-6f, rope, batch, cache, make(F32, {3, 2, 3})); }},
      {"qk_norm_rope: qkv must be F32, F16 or BF16 with unit-stride rows [T, (Hq + 2 Hkv) * head_dim] = [3, 16], "
       "got F32[3, 12] cpu",
       [&] { ops->qk_norm_rope(make(F32, {3, 12}), qn, kn, 1e-6f, rope, batch, cache, q); }},
      {"qk_norm_rope: q_norm_w must be F32, F16 or BF16 contiguous [head_dim] = [4], got F32[8] cpu",
       [&] { ops->qk_norm_rope(qkv, ones({8}), kn, 1e-6f, rope, batch, cache, q); }},
      {"qk_norm_rope: k_norm_w must be F32, F16 or BF16 contiguous [head_dim] = [4], got I32[4] cpu",
       [&] { ops->qk_norm_rope(qkv, qn, make(I32, {4}), 1e-6f, rope, batch, cache, q); }},
      {"qk_norm_rope: rope_cos_sin must be F32 contiguous [max_pos, head_dim] = [8, 4], got BF16[8, 4] cpu",
       [&] { ops->qk_norm_rope(qkv, qn, kn, 1e-6f, make(BF16, {8, 4}), batch, cache, q); }},
      {"qk_norm_rope: batch.positions must be I32 contiguous [T] = [3], got I32[2] cpu",
       [&] {
         AttentionBatch b = batch;
         b.positions = i32({0, 1}, {2});
         ops->qk_norm_rope(qkv, qn, kn, 1e-6f, rope, b, cache, q);
       }},
      {"qk_norm_rope: batch.slot_mapping must be I32 contiguous [T] = [3], got I64[3] cpu",
       [&] {
         AttentionBatch b = batch;
         b.slot_mapping = make(I64, {3});
         ops->qk_norm_rope(qkv, qn, kn, 1e-6f, rope, b, cache, q);
       }},
      {"qk_norm_rope: cache.k must be F32, BF16 or F8_E4M3 contiguous [num_blocks, Hkv, block_size, head_dim] = [2, 1, 4, 4], "
       "got I8[2, 1, 4, 4] cpu",
       [&] { ops->qk_norm_rope(qkv, qn, kn, 1e-6f, rope, batch, {make(I8, {2, 1, 4, 4}), vc}, q); }},
      {"qk_norm_rope: cache.v must be F32 contiguous [num_blocks, Hkv, block_size, head_dim] = [2, 1, 4, 4], got "
       "BF16[2, 1, 4, 4] cpu",
       [&] { ops->qk_norm_rope(qkv, qn, kn, 1e-6f, rope, batch, {kc, make(BF16, {2, 1, 4, 4})}, q); }},
      {"qk_norm_rope: cache.scales must be F32 contiguous [2 (K, V)] = [2], got F32[1] cpu",
       [&] {
         const LayerKVCache fp8{make(DType::F8E4M3, {2, 1, 4, 4}), make(DType::F8E4M3, {2, 1, 4, 4}), make(F32, {1})};
         ops->qk_norm_rope(qkv, qn, kn, 1e-6f, rope, batch, fp8, q);
       }},
      {"attention_decode: cache.scales must be F32 contiguous [2 (K, V)] = [2], got BF16[2] cpu",
       [&] {
         const LayerKVCache fp8{make(DType::F8E4M3, {2, 1, 4, 4}), make(DType::F8E4M3, {2, 1, 4, 4}), make(BF16, {2})};
         ops->attention_decode(q.rows(0, 1), fp8, batch, 0.5f, attn.rows(0, 1));
       }},
      // qk_norm_rope_attention_decode
      {"qk_norm_rope_attention_decode: every row must be a decode (batch.num_tokens = batch.num_decode_seqs), got 3 "
       "tokens and 1 decodes",
       [&] { ops->qk_norm_rope_attention_decode(qkv, qn, kn, 1e-6f, rope, batch, cache, 0.5f, q, attn); }},
      {"qk_norm_rope_attention_decode: q_scratch must be F32 or BF16 with unit-stride rows [T, Hq, head_dim] = [2, 2, "
       "4], got I32[2, 2, 4] cpu",
       [&] {
         ops->qk_norm_rope_attention_decode(qkv.rows(0, 2), qn, kn, 1e-6f, rope, decodes, cache, 0.5f,
                                            make(I32, {2, 2, 4}), attn.rows(0, 2));
       }},
      {"qk_norm_rope_attention_decode: out must be F32 or BF16 with unit-stride rows [num_decode_seqs, Hq * "
       "head_dim] = [2, 8], got F32[2, 4] cpu",
       [&] {
         ops->qk_norm_rope_attention_decode(qkv.rows(0, 2), qn, kn, 1e-6f, rope, decodes, cache, 0.5f, q.rows(0, 2),
                                            make(F32, {2, 4}));
       }},
      // attention_decode, attention_prefill
      {"attention_decode: batch.num_decode_seqs must be in [0, min(num_seqs = 2, num_tokens = 3)], got 3",
       [&] {
         AttentionBatch b = batch;
         b.num_decode_seqs = 3;
         ops->attention_decode(q, cache, b, 0.5f, attn);
       }},
      {"attention_decode: q must be F32, F16 or BF16 with unit-stride rows [num_decode_seqs, Hq, head_dim] = [1, 2, "
       "4], got F32[2, 2, 4] cpu",
       [&] { ops->attention_decode(q.rows(0, 2), cache, batch, 0.5f, attn.rows(0, 2)); }},
      {"attention_prefill: q must be F32, F16 or BF16 with unit-stride rows [num_tokens - num_decode_seqs, Hq, "
       "head_dim] = [2, 2, 4], got F32[1, 2, 4] cpu",
       [&] { ops->attention_prefill(q.rows(0, 1), cache, batch, 0.5f, attn.rows(0, 1)); }},
      {"attention_prefill: out must be F32 or BF16 with unit-stride rows [num_tokens - num_decode_seqs, Hq * "
       "head_dim] = [2, 8], got F32[2, 4] cpu",
       [&] { ops->attention_prefill(q.rows(1, 3), cache, batch, 0.5f, make(F32, {2, 4})); }},
      {"attention_decode: cache.k must be F32, BF16 or F8_E4M3 contiguous [num_blocks, Hkv, block_size, head_dim] = [2, 1, "
       "16, 4], got F32[2, 1, 4, 4] cpu",
       [&] {
         AttentionBatch b = batch;
         b.block_size = 16;
         ops->attention_decode(q.rows(0, 1), cache, b, 0.5f, attn.rows(0, 1));
       }},
      {"attention_decode: Hq must be a multiple of Hkv (grouped-query attention), got Hq = 2, Hkv = 3",
       [&] {
         const Tensor k3 = make(F32, {2, 3, 4, 4}), v3 = make(F32, {2, 3, 4, 4});
         ops->attention_decode(q.rows(0, 1), {k3, v3}, batch, 0.5f, attn.rows(0, 1));
       }},
      {"attention_prefill: batch.query_start must be I32 contiguous [num_seqs + 1] = [3], got I32[2] cpu",
       [&] {
         AttentionBatch b = batch;
         b.query_start = i32({0, 1}, {2});
         ops->attention_prefill(q.rows(1, 3), cache, b, 0.5f, attn.rows(1, 3));
       }},
      {"attention_prefill: batch.seq_lens must be I32 contiguous [num_seqs] = [2], got F32[2] cpu",
       [&] {
         AttentionBatch b = batch;
         b.seq_lens = make(F32, {2});
         ops->attention_prefill(q.rows(1, 3), cache, b, 0.5f, attn.rows(1, 3));
       }},
      {"attention_prefill: batch.block_tables must be I32 contiguous [num_seqs, W] = [2, 1], got I32[1, 1] cpu",
       [&] {
         AttentionBatch b = batch;
         b.block_tables = i32({0}, {1, 1});
         ops->attention_prefill(q.rows(1, 3), cache, b, 0.5f, attn.rows(1, 3));
       }},
      // gemm and the linear weight
      {"gemm: the weight must be float (kind None; int8 weights go through gemm_w8a8), got I8[8, 16] cpu",
       [&] { ops->gemm(x, w8_static, gemm_out); }},
      {"gemm: x must be F32, F16 or BF16 with unit-stride rows [M, K] = [3, 16], got I32[3, 16] cpu",
       [&] { ops->gemm(make(I32, {3, 16}), dense, gemm_out); }},
      {"gemm: weight must be on cpu (the backend's device), got F32[8, 16] cuda:0",
       [&] { ops->gemm(x, LinearWeight::dense(on_gpu(dense.weight)), gemm_out); }},
      {"gemm: weight must be F32, F16 or BF16 with unit-stride rows [N, K] = [8, 16], got F32[8, 12] cpu",
       [&] { ops->gemm(x, LinearWeight::dense(make(F32, {8, 12})), gemm_out); }},
      {"gemm: bias must be F32, F16 or BF16 contiguous [N] = [8], got F32[4] cpu",
       [&] {
         LinearWeight l = dense;
         l.bias = ones({4});
         ops->gemm(x, l, gemm_out);
       }},
      {"gemm: out must be F32 or BF16 with unit-stride rows [M, N] = [3, 8], got F32[3, 4] cpu",
       [&] { ops->gemm(x, dense, make(F32, {3, 4})); }},
      // W8A8
      {"quant_static: x must be F32, F16 or BF16 with unit-stride rows [T, K] = [3, 16], got I8[3, 16] cpu",
       [&] { ops->quant_static(xq, 0.5f, 1.0f, xq); }},
      {"quant_static: out must be I8 with unit-stride rows [T, K] = [3, 16], got F32[3, 16] cpu",
       [&] { ops->quant_static(x, 0.5f, 1.0f, out); }},
      {"quant_static: scale must be a positive finite number, got inf", [&] { ops->quant_static(x, inf, 1.0f, xq); }},
      {"quant_per_token: scales must be F32 contiguous [T] = [3], got F32[2] cpu",
       [&] { ops->quant_per_token(x, xq, ones({2})); }},
      {"gemm_w8a8: the weight must be quantized (float weights go through gemm), got F32[8, 16] cpu",
       [&] { ops->gemm_w8a8(xq, Tensor{}, dense, gemm_out); }},
      {"gemm_w8a8: x_q must be I8 contiguous [M, K] = [3, 16], got I8[3, 16] cpu (strided)",
       [&] { ops->gemm_w8a8(strided(I8, 3, 16), Tensor{}, w8_static, gemm_out); }},
      {"gemm_w8a8: weight must be I8 contiguous [N, K] = [8, 16], got I8[8, 16] cpu (strided)",
       [&] {
         LinearWeight l = w8_static;
         l.weight = strided(I8, 8, 16);
         ops->gemm_w8a8(xq, Tensor{}, l, gemm_out);
       }},
      {"gemm_w8a8: K must be below 132104 (exact i32 sums of int8 products), got 132104",
       [&] {
         LinearWeight l = w8_static;
         l.weight = make(I8, {8, 132104});
         ops->gemm_w8a8(make(I8, {1, 132104}), Tensor{}, l, make(F32, {1, 8}));
       }},
      {"gemm_w8a8: deq_scale must be F32 contiguous [N] = [8], got F32[4] cpu",
       [&] {
         LinearWeight l = w8_static;
         l.deq_scale = ones({4});
         ops->gemm_w8a8(xq, Tensor{}, l, gemm_out);
       }},
      {"gemm_w8a8: quant_bias must be I32 contiguous [N] = [8], got F32[8] cpu",
       [&] {
         LinearWeight l = w8_static;
         l.quant_bias = ones({8});
         ops->gemm_w8a8(xq, Tensor{}, l, gemm_out);
       }},
      {"gemm_w8a8: weight_scale must be F32 contiguous [N] = [8], got F32[] cpu (undefined)",
       [&] {
         LinearWeight l = w8_dynamic;
         l.weight_scale = Tensor{};
         ops->gemm_w8a8(xq, x_scales, l, gemm_out);
       }},
      {"gemm_w8a8: x_scales must be F32 contiguous [M] = [3], got F32[] cpu (undefined)",
       [&] { ops->gemm_w8a8(xq, Tensor{}, w8_dynamic, gemm_out); }},
      {"gemm_w8a8: out must be F32 or BF16 with unit-stride rows [M, N] = [3, 8], got I32[3, 8] cpu",
       [&] { ops->gemm_w8a8(xq, Tensor{}, w8_static, make(I32, {3, 8})); }},
      // MoE
      {"moe_route: logits must be F32 with unit-stride rows [T, E] = [3, 4], got BF16[3, 4] cpu",
       [&] { ops->moe_route(make(BF16, {3, 4}), 2, true, topk_w, topk_ids); }},
      {"moe_route: top_k must be in [1, E = 4], got 5", [&] { ops->moe_route(router, 5, true, topk_w, topk_ids); }},
      {"moe_route: topk_weights must be F32 contiguous [T, top_k] = [3, 2], got F32[3, 3] cpu",
       [&] { ops->moe_route(router, 2, true, ones({3, 3}), topk_ids); }},
      {"moe_route: topk_ids must be I32 contiguous [T, top_k] = [3, 2], got F32[3, 2] cpu",
       [&] { ops->moe_route(router, 2, true, topk_w, ones({3, 2})); }},
      {"route_experts: the weight must be float (kind None; int8 weights go through gemm_w8a8), got I8[8, 16] cpu",
       [&] { ops->route_experts(x, w8_static, 2, true, gemm_out, topk_w, topk_ids); }},
      {"route_experts: x must be F32, F16 or BF16 with unit-stride rows [M, K] = [3, 16], got I8[3, 16] cpu",
       [&] { ops->route_experts(xq, router_w, 2, true, router, topk_w, topk_ids); }},
      {"route_experts: logits must be F32 or BF16 with unit-stride rows [M, N] = [3, 4], got F32[3, 8] cpu",
       [&] { ops->route_experts(x, router_w, 2, true, gemm_out, topk_w, topk_ids); }},
      {"route_experts: logits must be F32 with unit-stride rows [T, E] = [3, 4], got BF16[3, 4] cpu",
       [&] { ops->route_experts(x, router_w, 2, true, make(BF16, {3, 4}), topk_w, topk_ids); }},
      {"route_experts: top_k must be in [1, E = 4], got 5",
       [&] { ops->route_experts(x, router_w, 5, true, router, topk_w, topk_ids); }},
      {"route_experts: topk_ids must be I32 contiguous [T, top_k] = [3, 2], got F32[3, 2] cpu",
       [&] { ops->route_experts(x, router_w, 2, true, router, topk_w, ones({3, 2})); }},
      {"moe_experts: x must be F32, F16 or BF16 with unit-stride rows [T, H = experts.hidden] = [3, 16], got F32[3, "
       "8] cpu",
       [&] { ops->moe_experts(make(F32, {3, 8}), topk_w, topk_ids, experts, out); }},
      {"moe_experts: topk_ids must be I32 contiguous [T, top_k] = [3, 2], got I32[2, 2] cpu",
       [&] { ops->moe_experts(x, topk_w, i32({0, 1, 2, 3}, {2, 2}), experts, out); }},
      {"moe_experts: topk_weights must be F32 contiguous [T, top_k] = [3, 2], got F32[3, 3] cpu",
       [&] { ops->moe_experts(x, ones({3, 3}), topk_ids, experts, out); }},
      {"moe_experts: out must be F32 or BF16 with unit-stride rows [T, H] = [3, 16], got I8[3, 16] cpu",
       [&] { ops->moe_experts(x, topk_w, topk_ids, experts, xq); }},
      // The CPU backend's own need: the per-expert weights.
      {"moe_experts: the CPU backend needs gate, up and down weights of each of the 4 experts, got 4, 4 and 3",
       [&] {
         ExpertWeights e = experts;
         e.down.pop_back();
         ops->moe_experts(x, topk_w, topk_ids, e, out);
       }},
      {"moe_experts (an expert's gate): weight must be F32, F16 or BF16 with unit-stride rows [N, K] = [8, 16], got "
       "F32[8, 12] cpu",
       [&] {
         ExpertWeights e = experts;
         e.gate[2] = LinearWeight::dense(make(F32, {8, 12}));
         ops->moe_experts(x, topk_w, topk_ids, e, out);
       }},
      // fill_random and the sampling ops
      {"fill_random: t must be F32, BF16 or F8_E4M3 contiguous [numel] = [4], got I32[4] cpu",
       [&] { ops->fill_random(make(I32, {4}), 1, 0.0f, 1.0f); }},
      {"sample: logits must be F32 with unit-stride rows [S, V] = [2, 10], got BF16[2, 10] cpu",
       [&] { ops->sample(make(BF16, {2, 10}), sampling, sampled); }},
      {"sample: out_ids must be I32 contiguous [S] = [2], got I32[3] cpu",
       [&] { ops->sample(logits, sampling, make(I32, {3})); }},
      {"sample: temperature must be F32 contiguous [S] = [2], got F32[1] cpu",
       [&] {
         SamplingBatch p = sampling;
         p.temperature = ones({1});
         ops->sample(logits, p, sampled);
       }},
      {"sample: seed must be I64 contiguous [S] = [2], got I32[2] cpu",
       [&] {
         SamplingBatch p = sampling;
         p.seed = make(I32, {2});
         ops->sample(logits, p, sampled);
       }},
      {"apply_penalties: repetition must be F32 contiguous [S] = [2], got F32[1] cpu",
       [&] {
         PenaltyBatch p = penalties;
         p.repetition = ones({1});
         ops->apply_penalties(logits, p);
       }},
      {"apply_penalties: prompt_start must be I32 contiguous [S + 1] = [3], got I32[2] cpu",
       [&] {
         PenaltyBatch p = penalties;
         p.prompt_start = i32({0, 1}, {2});
         ops->apply_penalties(logits, p);
       }},
      {"apply_penalties: output_tokens must be I32 contiguous [No] = [1], got F32[1] cpu",
       [&] {
         PenaltyBatch p = penalties;
         p.output_tokens = make(F32, {1});
         ops->apply_penalties(logits, p);
       }},
      {"mask_tokens: start must be I32 contiguous [S + 1] = [3], got I32[2] cpu",
       [&] { ops->mask_tokens(logits, mask_ids, i32({0, 1}, {2})); }},
      {"mask_tokens: ids must be I32 contiguous [N] = [1], got I64[1] cpu",
       [&] { ops->mask_tokens(logits, make(I64, {1}), mask_start); }},
      {"apply_token_bitmask: logits must be F32 with unit-stride rows [S, V] = [2, 10], got BF16[2, 10] cpu",
       [&] { ops->apply_token_bitmask(make(BF16, {2, 10}), bitmask, bitmask_rows); }},
      {"apply_token_bitmask: rows must be I32 contiguous [N] = [1], got I64[1] cpu",
       [&] { ops->apply_token_bitmask(logits, bitmask, make(I64, {1})); }},
      {"apply_token_bitmask: bitmask must be I32 with unit-stride rows [N, W] = [1, 1], got I32[2, 1] cpu",
       [&] { ops->apply_token_bitmask(logits, i32({-1, -1}, {2, 1}), bitmask_rows); }},
      {"apply_token_bitmask: bitmask's W must be at least ceil(V / 32) = 1 (a bit per token), got 0",
       [&] { ops->apply_token_bitmask(logits, make(I32, {1, 0}), bitmask_rows); }},
      {"logprobs: token_ids must be I32 contiguous [S] = [2], got I32[3] cpu",
       [&] { ops->logprobs(logits, make(I32, {3}), token_lp, token_rank, top_ids, top_lp); }},
      {"logprobs: token_rank must be I32 contiguous [S] = [2], got F32[2] cpu",
       [&] { ops->logprobs(logits, token_ids, token_lp, make(F32, {2}), top_ids, top_lp); }},
      {"logprobs: top_ids' K must be at most V = 10, got 11",
       [&] { ops->logprobs(logits, token_ids, token_lp, token_rank, make(I32, {2, 11}), make(F32, {2, 11})); }},
      {"logprobs: top_logprobs must be F32 contiguous [S, K] = [2, 3], got F32[2, 2] cpu",
       [&] { ops->logprobs(logits, token_ids, token_lp, token_rank, top_ids, make(F32, {2, 2})); }},
      {"copy_tokens: src must be I32 contiguous [numel] = [4], got F32[4] cpu",
       [&] { ops->copy_tokens(make(F32, {4}), src_index, dst, dst_index); }},
      {"copy_tokens: dst_index must be I32 contiguous [n] = [2], got I32[3] cpu",
       [&] { ops->copy_tokens(src, src_index, dst, i32({0, 1, 2}, {3})); }},
  };
  for (const Case& c : cases) {
    try {
      c.call();
      ADD_FAILURE() << "no error; expected: " << c.message;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), c.message);
    }
  }
}

}  // namespace
}  // namespace rotor
