// bench/kernels.cpp — rotor_bench_kernels: each CUDA op at the decode (batch 32, 16k
// context) and prefill shapes of a model config, timed as GPU time (kernel_timer.h; weights
// rotated so repeated calls do not sit in L2), reported as achieved bandwidth or FLOP rate
// beside the measured device-copy ceiling; attention also on an e4m3 KV cache (--kv-cache-dtype
// fp8: half the bytes); the experts of batches 1, 2, 4, 8 on the small-batch path and on the
// tiles (ROTOR_MOE_SMALL=0); the router at batches 1 and 2 in one op (route_experts) and as
// gemm + moe_route; the W8A8 ops' rows come from kernels_w8a8.cpp (--w8a8-only: those rows
// alone).
#include <CLI/CLI.hpp>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>
#include <random>
#include <set>
#include <string>

#include "bench/kernel_timer.h"
#include "bench/kernels_w8a8.h"
#include "core/check.h"
#include "kernels/cuda/cuda_ops.h"
#include "model/config.h"

namespace rotor {
namespace {

int run(const std::string& config_path, int batch, int context, int prefill_tokens, bool w8a8_only) {
  const ModelConfig c = ModelConfig::load(config_path);
  std::unique_ptr<Ops> ops = make_cuda_ops(0);
  Allocator& A = ops->allocator();
  Timer timer{cuda_stream(*ops)};
  std::mt19937_64 g(11);
  KernelTable table;
  auto add = [&](std::string name, std::string shape, double ms, double bytes, double flops) {
    table.add(std::move(name), std::move(shape), ms, bytes, flops);
  };
  auto bf16 = [&](Shape s, float std = 1.0f) {
    OwnedTensor t(A, DType::BF16, s);
    ops->fill_random(t, g(), 0.0f, std);
    return t;
  };
  const int64_t H = c.hidden_size, hd = c.head_dim, Hq = c.num_heads, Hkv = c.num_kv_heads, E = c.num_experts,
                k = c.num_experts_per_tok, I = c.moe_intermediate_size, V = c.vocab_size;
  const int B = batch;

  // Ceiling: device-to-device copy of 4 GiB (read + write), timed eagerly (a memcpy node in a
  // graph runs slower than the copy itself).
  {
    const size_t bytes = size_t(4) << 30;
    Buffer src(A, bytes), dst(A, bytes);
    ops->fill_random(Tensor(src.data(), DType::BF16, {static_cast<int64_t>(bytes / 2)}, src.device()), 1, 0, 1);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    std::vector<float> ms;
    for (int i = 0; i < 7; ++i) {
      cudaEventRecord(e0, timer.stream);
      cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice, timer.stream);
      cudaEventRecord(e1, timer.stream);
      cudaEventSynchronize(e1);
      float t = 0;
      cudaEventElapsedTime(&t, e0, e1);
      if (i >= 2) ms.push_back(t);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    std::sort(ms.begin(), ms.end());
    add("copy (ceiling)", "4 GiB d2d", ms[ms.size() / 2], 2.0 * bytes, 0);
  }
  const double ceiling = table.rows.back().gbps;
  if (w8a8_only) {
    w8a8_kernel_rows(*ops, timer, table, c, batch, prefill_tokens);
    table.print(ceiling);
    return 0;
  }

  // Dense projections at decode and prefill sizes; enough weight copies to defeat L2.
  struct Proj {
    const char* name;
    int64_t N, K;
    bool f32;
  };
  for (const Proj& p : {Proj{"gemm qkv", c.qkv_size(), H, false}, Proj{"gemm o_proj", H, c.q_size(), false},
                        Proj{"gemm router", E, H, true}, Proj{"gemm lm_head", V, H, true}})
    for (int M : {B, prefill_tokens}) {
      if (M > B && p.N == V) continue;
      const double wbytes = double(p.N) * p.K * 2;
      const int copies = std::max(1, static_cast<int>(std::ceil(512e6 / wbytes)));
      std::vector<OwnedTensor> ws;
      for (int i = 0; i < copies; ++i) ws.push_back(bf16({p.N, p.K}, 0.02f));
      OwnedTensor x = bf16({M, p.K});
      OwnedTensor out(A, p.f32 ? DType::F32 : DType::BF16, {M, p.N});
      const double ms = timer.median_ms([&](int i) { ops->gemm(x, LinearWeight::dense(ws[i % copies]), out); });
      add(p.name, std::to_string(M) + "x" + std::to_string(p.N) + "x" + std::to_string(p.K), ms,
          wbytes + double(M) * p.K * 2 + double(M) * p.N * (p.f32 ? 4 : 2), 2.0 * M * p.N * p.K);
    }

  // Norms, QK-norm + RoPE, router at decode size.
  {
    OwnedTensor x = bf16({B, H}), res = bf16({B, H}), w = bf16({H}), out(A, DType::BF16, {B, H});
    const double ms = timer.median_ms([&](int) { ops->rms_norm(x, w, Tensor{}, 1e-6f, out, res); });
    add("rms_norm+residual", std::to_string(B) + "x" + std::to_string(H), ms, 4.0 * B * H * 2, 0);
  }
  const int bs = 16;
  const int blocks_per_seq = (context + 1 + bs - 1) / bs;
  const int nb = B * blocks_per_seq;
  OwnedTensor kc = bf16({nb, Hkv, bs, hd}), vc = bf16({nb, Hkv, bs, hd});
  // The same cache in e4m3, codes of N(0, 4) read with scales of 0.25.
  OwnedTensor kc8(A, DType::F8E4M3, {nb, Hkv, bs, hd}), vc8(A, DType::F8E4M3, {nb, Hkv, bs, hd}),
      scales8(A, DType::F32, {2});
  ops->fill_random(kc8, g(), 0.0f, 4.0f);
  ops->fill_random(vc8, g(), 0.0f, 4.0f);
  ops->fill_random(scales8, 0, 0.25f, 0.0f);
  const LayerKVCache caches[2] = {{kc, vc}, {kc8, vc8, scales8}};
  const char* cache_names[2] = {"", " (e4m3 KV)"};
  std::vector<int32_t> tables(static_cast<size_t>(B) * blocks_per_seq), lens(B, context), qs(B + 1), pos(B),
      slots(B);
  std::iota(tables.begin(), tables.end(), 0);
  for (int s = 0; s <= B; ++s) qs[s] = s;
  for (int s = 0; s < B; ++s) {
    pos[s] = context - 1;
    slots[s] = s * blocks_per_seq * bs + context - 1;
  }
  auto dev_i32 = [&](const std::vector<int32_t>& v, Shape s) {
    OwnedTensor t(A, DType::I32, s);
    A.copy(t.tensor.data(), v.data(), v.size() * 4);
    return t;
  };
  OwnedTensor dtab = dev_i32(tables, {B, blocks_per_seq}), dlens = dev_i32(lens, {B}), dqs = dev_i32(qs, {B + 1}),
              dpos = dev_i32(pos, {B}), dslots = dev_i32(slots, {B});
  AttentionBatch b;
  b.num_tokens = b.num_seqs = b.num_decode_seqs = B;
  b.max_query_len = 1;
  b.max_seq_len = context;
  b.block_size = bs;
  b.positions = dpos;
  b.slot_mapping = dslots;
  b.query_start = dqs;
  b.seq_lens = dlens;
  b.block_tables = dtab;
  {
    OwnedTensor qkv = bf16({B, c.qkv_size()}), qw = bf16({hd}), kw = bf16({hd}), q(A, DType::BF16, {B, Hq, hd});
    OwnedTensor rope(A, DType::F32, {context + 1, hd});
    ops->fill_random(rope, 3, 0.0f, 0.5f);
    const double ms = timer.median_ms([&](int) { ops->qk_norm_rope(qkv, qw, kw, 1e-6f, rope, b, {kc, vc}, q); });
    add("qk_norm_rope", std::to_string(B) + " tokens", ms, 2.0 * B * c.qkv_size() * 2, 0);
  }
  for (int f = 0; f < 2; ++f) {
    OwnedTensor q = bf16({B, Hq, hd}), out(A, DType::BF16, {B, Hq * hd});
    const double ms = timer.median_ms([&](int) { ops->attention_decode(q, caches[f], b, 0.088f, out); });
    const double bytes = double(B) * context * Hkv * hd * 2 * (f ? 1 : 2);
    add(std::string("attention_decode") + cache_names[f], std::to_string(B) + " x " + std::to_string(context) + " ctx",
        ms, bytes, 4.0 * B * context * Hq * hd);
  }
  {
    OwnedTensor logits(A, DType::F32, {B, E}), w(A, DType::F32, {B, k}), ids(A, DType::I32, {B, k});
    ops->fill_random(logits, 5, 0.0f, 2.0f);
    const double ms = timer.median_ms([&](int) { ops->moe_route(logits, static_cast<int>(k), true, w, ids); });
    add("moe_route", std::to_string(B) + " tokens", ms, double(B) * E * 4, 0);
  }
  // The router at batch 1 and 2 (issue 21): route_experts with ROTOR_FUSED_ROUTER=1 (the GEMV
  // with its top-k fused, one kernel) against gemm + moe_route (two), the weights of enough
  // layers to defeat L2.
  {
    const std::unique_ptr<Ops> fused_router = make_cuda_ops_with_env({{"ROTOR_FUSED_ROUTER", "1"}});
    const double wbytes = double(E) * H * 2;
    const int copies = std::max(1, static_cast<int>(std::ceil(512e6 / wbytes)));
    std::vector<OwnedTensor> ws;
    for (int i = 0; i < copies; ++i) ws.push_back(bf16({E, H}, 0.02f));
    const int topk = static_cast<int>(k);
    for (int M : {1, 2}) {
      OwnedTensor x = bf16({M, H}), logits(A, DType::F32, {M, E}), w(A, DType::F32, {M, topk}),
          ids(A, DType::I32, {M, topk});
      const std::string shape = std::to_string(M) + "x" + std::to_string(E) + "x" + std::to_string(H);
      const double bytes = wbytes + double(M) * H * 2 + double(M) * E * 4, flops = 2.0 * M * E * H;
      const double fused = timer.median_ms([&](int i) {
        fused_router->route_experts(x, LinearWeight::dense(ws[i % copies]), topk, true, logits, w, ids);
      });
      add("route_experts (fused)", shape, fused, bytes, flops);
      const double two = timer.median_ms([&](int i) {
        ops->gemm(x, LinearWeight::dense(ws[i % copies]), logits);
        ops->moe_route(logits, topk, true, w, ids);
      });
      add("gemm + moe_route", shape, two, bytes, flops);
    }
  }

  // Experts at decode and prefill sizes; the weights of several layers rotate through.
  {
    const double layer_bytes = double(E) * 3 * H * I * 2;
    const int layers = std::max(1, static_cast<int>(std::ceil(3e9 / layer_bytes)));
    std::vector<OwnedTensor> w13, w2;
    std::vector<ExpertWeights> ex(layers);
    for (int l = 0; l < layers; ++l) {
      w13.push_back(bf16({E, 2 * I, H}, 0.02f));
      w2.push_back(bf16({E, H, I}, 0.03f));
      ex[l].num_experts = static_cast<int>(E);
      ex[l].hidden = static_cast<int>(H);
      ex[l].inter = static_cast<int>(I);
      ex[l].w13 = w13.back();
      ex[l].w2 = w2.back();
    }
    auto experts_row = [&](Ops& o, const std::string& name, int T) {
      std::vector<int32_t> ids(static_cast<size_t>(T) * k);
      std::set<int32_t> touched;
      for (int t = 0; t < T; ++t) {
        std::vector<int32_t> all(E);
        std::iota(all.begin(), all.end(), 0);
        std::shuffle(all.begin(), all.end(), g);
        for (int j = 0; j < k; ++j) touched.insert(ids[t * k + j] = all[j]);
      }
      std::vector<float> wts(ids.size(), 1.0f / k);
      OwnedTensor dids = dev_i32(ids, {T, k}), dw(A, DType::F32, {T, k});
      A.copy(dw.tensor.data(), wts.data(), wts.size() * 4);
      OwnedTensor x = bf16({T, H}), out(A, DType::BF16, {T, H});
      const double ms = timer.median_ms([&](int i) { o.moe_experts(x, dw, dids, ex[i % layers], out); });
      add(name, std::to_string(T) + " tokens, " + std::to_string(touched.size()) + " experts", ms,
          double(touched.size()) * 3 * H * I * 2, 2.0 * 3 * T * k * H * I);
    };
    // Small batches (issue 21): the two-kernel small path (moe_small.cuh, up to 64 slots; a
    // backend made with ROTOR_MOE_SMALL=all) and the tiles (ROTOR_MOE_SMALL=0).
    std::unique_ptr<Ops> tiles = make_cuda_ops_with_env({{"ROTOR_MOE_SMALL", "0"}});
    std::unique_ptr<Ops> small = make_cuda_ops_with_env({{"ROTOR_MOE_SMALL", "all"}});
    for (int T : {1, 2, 4, 8}) {
      experts_row(*small, "moe_experts (small)", T);
      experts_row(*tiles, "moe_experts (tiles)", T);
    }
    // Half the prefill chunk too: the least that still takes moe_wgmma's 128-row tiles at
    // top-8 of 128 experts, where padding to them wastes the most.
    for (int T : {B, std::max(1, prefill_tokens / 2), prefill_tokens}) experts_row(*ops, "moe_experts", T);
  }

  // Prefill attention: one chunk of prefill_tokens at the end of a `context` prompt, then the
  // whole `context` prompt as one fresh chunk (causal, no prefix).
  for (int f = 0; f < 2; ++f) {
    for (const int P : {std::min(prefill_tokens, context), context}) {
      const int prefix = context - P;
      std::vector<int32_t> pqs{0, P}, plen{context};
      OwnedTensor pq = dev_i32(pqs, {2}), pl = dev_i32(plen, {1});
      AttentionBatch pb = b;
      pb.num_tokens = P;
      pb.num_seqs = 1;
      pb.num_decode_seqs = 0;
      pb.max_query_len = P;
      pb.max_seq_len = context;
      pb.query_start = pq;
      pb.seq_lens = pl;
      pb.block_tables = dtab.tensor.rows(0, 1);
      OwnedTensor q = bf16({P, Hq, hd}), out(A, DType::BF16, {P, Hq * hd});
      const double ms = timer.median_ms([&](int) { ops->attention_prefill(q, caches[f], pb, 0.088f, out); }, 3, 1);
      const double pairs = double(P) * prefix + double(P) * (P + 1) / 2;
      add(std::string("attention_prefill") + cache_names[f],
          std::to_string(P) + " new on " + std::to_string(prefix) + " cached", ms,
          double(context) * Hkv * hd * (f ? 2 : 4), 4.0 * pairs * Hq * hd);
    }
  }
  {
    OwnedTensor logits(A, DType::F32, {B, V});
    ops->fill_random(logits, 9, 0.0f, 3.0f);
    for (bool greedy : {true, false}) {
      std::vector<float> temp(B, greedy ? 0.0f : 0.8f), top_p(B, greedy ? 1.0f : 0.9f), min_p(B, 0.0f);
      std::vector<int32_t> top_k(B, greedy ? 0 : 50);
      std::vector<int64_t> seed(B, 1), counter(B, 0);
      OwnedTensor t(A, DType::F32, {B}), kk(A, DType::I32, {B}), p(A, DType::F32, {B}), mp(A, DType::F32, {B}),
          sd(A, DType::I64, {B}), ct(A, DType::I64, {B}), out(A, DType::I32, {B});
      A.copy(t.tensor.data(), temp.data(), B * 4);
      A.copy(kk.tensor.data(), top_k.data(), B * 4);
      A.copy(p.tensor.data(), top_p.data(), B * 4);
      A.copy(mp.tensor.data(), min_p.data(), B * 4);
      A.copy(sd.tensor.data(), seed.data(), B * 8);
      A.copy(ct.tensor.data(), counter.data(), B * 8);
      const double ms = timer.median_ms([&](int) { ops->sample(logits, {t, kk, p, mp, sd, ct}, out); });
      add(greedy ? "sample greedy" : "sample k50 p0.9 T0.8", std::to_string(B) + "x" + std::to_string(V), ms,
          double(B) * V * 4, 0);
    }
  }

  w8a8_kernel_rows(*ops, timer, table, c, batch, prefill_tokens);
  table.print(ceiling);
  return 0;
}

}  // namespace
}  // namespace rotor

int main(int argc, char** argv) {
  std::string config;
  int batch = 32, context = 16384, prefill = 4096;
  bool w8a8_only = false;
  CLI::App app{"rotor_bench_kernels: CUDA op timings at a model's decode and prefill shapes"};
  app.add_option("config", config, "config.json of the model")->required();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--context", context)->capture_default_str();
  app.add_option("--prefill-tokens", prefill)->capture_default_str();
  app.add_flag("--w8a8-only", w8a8_only, "only the copy ceiling and the W8A8 ops' rows");
  CLI11_PARSE(app, argc, argv);
  try {
    return rotor::run(config, batch, context, prefill, w8a8_only);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
