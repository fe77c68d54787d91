// tests/kernels/test_cuda_ops.cpp — every CUDA op against its CPU op (the oracle) on random
// shapes and fresh random data, including the per-layer shapes of Qwen3-30B-A3B and
// Qwen3-235B-A22B: bf16 outputs within relative error 1e-2, integer outputs exact (top-k
// ids allowing ties); the f32 logits ops around sampling (penalties, masks, log-probs)
// within 1e-6, their ids and ranks exact. Every attention path (decode by fixed splits and by
// a plan, prefill with and without a cached prefix, head sizes 64 and 128: the latter on the
// Hopper kernel) runs on a bf16 cache and on an e4m3 one (scales 0.37 and 1.9), against the
// CPU op on the same cache. Also: the decode-path kernels give a row the same bits whatever
// the batch around it (what makes CUDA-graph padding invisible); the experts' small-batch path
// (moe_small.cuh; a backend made with ROTOR_MOE_SMALL=all) agrees with the tiles (one made with
// ROTOR_MOE_SMALL=0) within bf16 rounding; the router in one op (route_experts: the GEMV with
// its top-k fused at 1-2 rows) gives the bits of gemm + moe_route, run twice in a row and
// replayed from a CUDA graph; a step of decode rows with QK-norm + RoPE fused into the decode
// attention (ROTOR_FUSED_QK_ATTENTION=1) gives the output and cache bits of qk_norm_rope, then
// attention_decode. Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/bf16.h"
#include "core/error.h"
#include "core/fp8.h"
#include "engine/runner/cuda_graph.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemv.cuh"
#include "kernels/cuda/moe_small.cuh"
#include "kernels/decode_plan.h"
#include "kernels/ops.h"
#include "tests/support/device_copy.h"
#include "tests/support/random_tensors.h"
#include "model/config.h"
#include "model/rope.h"

namespace rotor {
namespace {

using test::Rand;

ModelConfig shared_config(const std::string& name) {
  return ModelConfig::load(std::string(ROTOR_SHARED_DIR) + "/configs/" + name + "/config.json");
}

class CudaOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
    r.print_seed();
    gpu = make_cuda_ops(0);
    cpu = make_cpu_ops();
  }
  // A host tensor of random bf16 values, and its copy on the GPU.
  OwnedTensor host_bf16(Shape s, float scale = 1.0f) {
    OwnedTensor t(cpu_allocator(), DType::BF16, s);
    for (int64_t i = 0; i < t.tensor.numel(); ++i) t.tensor.data<uint16_t>()[i] = f32_to_bf16(scale * r.normal());
    return t;
  }
  OwnedTensor host_f32(Shape s, float scale = 1.0f) {
    OwnedTensor t(cpu_allocator(), DType::F32, s);
    for (int64_t i = 0; i < t.tensor.numel(); ++i) t.tensor.data<float>()[i] = scale * r.normal();
    return t;
  }
  OwnedTensor host_i32(const std::vector<int32_t>& v, Shape s) {
    OwnedTensor t(cpu_allocator(), DType::I32, s);
    std::copy(v.begin(), v.end(), t.tensor.data<int32_t>());
    return t;
  }
  OwnedTensor to_gpu(const Tensor& h) { return test::to_device(*gpu, h); }
  OwnedTensor to_host(const Tensor& d) { return test::to_host(*gpu, d); }
  // A second GPU backend made with var=value in the environment (read when a backend is made).
  static std::unique_ptr<Ops> gpu_with_env(const char* var, const char* value) {
    return make_cuda_ops_with_env({{var, value}});
  }
  OwnedTensor gpu_zeros(DType dt, Shape s) {
    OwnedTensor d(gpu->allocator(), dt, s);
    gpu->fill_random(d, 0, 0.0f, 0.0f);
    return d;
  }
  // A GPU tensor of N(0, std) values from the shared hash, and its host copy.
  std::pair<OwnedTensor, OwnedTensor> random_pair(Shape s, float std, uint64_t seed) {
    OwnedTensor d(gpu->allocator(), DType::BF16, s);
    gpu->fill_random(d.tensor, seed, 0.0f, std);
    OwnedTensor h = to_host(d.tensor);
    return {std::move(d), std::move(h)};
  }

  // A paged KV cache [num_blocks, Hkv, block_size, hd] of random values on the GPU and its host
  // copy: bf16 N(0, 1), or e4m3 codes of N(0, 4) (K) and N(0, 2) (V) (fill_random rounds them
  // alike on both backends) read with scales kE4m3KScale and kE4m3VScale, so K * scale spans
  // about the bf16 cache's range and V's about 4x it.
  static constexpr float kE4m3KScale = 0.37f, kE4m3VScale = 1.9f;
  struct RandomCache {
    OwnedTensor dk, dv, hk, hv, dscales, hscales;
    LayerKVCache gpu() const { return {dk.tensor, dv.tensor, dscales.tensor}; }
    LayerKVCache cpu() const { return {hk.tensor, hv.tensor, hscales.tensor}; }
  };
  // One decode row per sequence, sequence s with context lens[s], over a paged cache of bs-token
  // blocks handed out in a shuffled order: query starts qs [S + 1], block tables [S, maxb], the
  // blocks in use (total; the cache needs total + 2) and the longest context.
  struct DecodeTables {
    std::vector<int32_t> qs, tables;
    int maxb = 1, total = 0, max_len = 1;
  };
  DecodeTables decode_tables(const std::vector<int32_t>& lens, int bs) {
    const int S = static_cast<int>(lens.size());
    DecodeTables t;
    t.qs.resize(S + 1);
    for (int s = 0; s < S; ++s) {
      t.qs[s + 1] = s + 1;
      t.maxb = std::max(t.maxb, (lens[s] + bs - 1) / bs);
      t.total += (lens[s] + bs - 1) / bs;
      t.max_len = std::max(t.max_len, lens[s]);
    }
    std::vector<int32_t> blocks(t.total + 2);
    std::iota(blocks.begin(), blocks.end(), 0);
    std::shuffle(blocks.begin(), blocks.end(), r.g);
    t.tables.assign(static_cast<size_t>(S) * t.maxb, 0);
    for (int s = 0, f = 0; s < S; ++s)
      for (int b = 0; b < (lens[s] + bs - 1) / bs; ++b) t.tables[s * t.maxb + b] = blocks[f++];
    return t;
  }
  RandomCache random_cache(Shape s, bool fp8) {
    RandomCache c;
    const DType dt = fp8 ? DType::F8E4M3 : DType::BF16;
    c.dk = OwnedTensor(gpu->allocator(), dt, s);
    c.dv = OwnedTensor(gpu->allocator(), dt, s);
    gpu->fill_random(c.dk, r.g(), 0.0f, fp8 ? 4.0f : 1.0f);
    gpu->fill_random(c.dv, r.g(), 0.0f, fp8 ? 2.0f : 1.0f);
    c.hk = to_host(c.dk);
    c.hv = to_host(c.dv);
    if (fp8) {
      c.hscales = OwnedTensor(cpu_allocator(), DType::F32, {2});
      c.hscales.tensor.data<float>()[0] = kE4m3KScale;
      c.hscales.tensor.data<float>()[1] = kE4m3VScale;
      c.dscales = to_gpu(c.hscales);
    }
    return c;
  }
  void paged_attention_matches_cpu(bool fp8);
  void planned_decode_attention_matches_cpu(bool fp8);

  std::unique_ptr<Ops> gpu, cpu;
  Rand r;
};

float value(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::BF16: return bf16_to_f32(t.data<uint16_t>()[i]);
    case DType::F32: return t.data<float>()[i];
    default: return 0.0f;
  }
}

// ||got - ref|| / ||ref|| over a [rows, cols] window of two host tensors with row strides.
double rel_err(const Tensor& ref, const Tensor& got) {
  double num = 0, den = 0;
  const int64_t rows = ref.ndim() == 1 ? 1 : ref.size(0), cols = ref.numel() / std::max<int64_t>(rows, 1);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const double a = value(ref, i * (ref.ndim() == 1 ? 0 : ref.stride(0)) + j);
      const double b = value(got, i * (got.ndim() == 1 ? 0 : got.stride(0)) + j);
      if (std::isnan(b)) return INFINITY;
      num += (a - b) * (a - b);
      den += a * a;
    }
  return std::sqrt(num / std::max(den, 1e-30));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

// How far the bf16 experts' small-batch path may be from the tiles: ||small - tiles|| / ||tiles||
// below 2^-9 (half a bf16 ulp, relatively). Each path sums in f32 in its own order (CUDA cores,
// tensor cores), so a value of h or of a slot's output lands a bf16 ulp apart when its f32 sums
// straddle a rounding boundary (rare: ~2^-11 of them at K = 2048), ~1e-4 in all; a missed expert
// or a wrong weight is of order one.
constexpr double kSmallVsTiles = 1.0 / 512;

// Whether the default backend's moe_experts runs T tokens at top-k (intermediate size I) on the
// small path (cuda::MoeSmall::Measured).
bool small_path(int T, int k, int I) { return T * k <= cuda::kMoeSmallFastSlots && I <= cuda::kShortK; }

TEST_F(CudaOpsTest, EmbedGathersRows) {
  for (int trial = 0; trial < 4; ++trial) {
    const int V = r.uniform(1, 500), H = 8 * r.uniform(1, 300), T = r.uniform(1, 40);
    OwnedTensor table = host_bf16({V, H});
    std::vector<int32_t> ids(T);
    for (auto& id : ids) id = r.uniform(0, V - 1);
    OwnedTensor hid = host_i32(ids, {T});
    OwnedTensor dtable = to_gpu(table), dids = to_gpu(hid), dout(gpu->allocator(), DType::BF16, {T, H});
    gpu->embed(dids, dtable, dout);
    OwnedTensor out = to_host(dout);
    for (int t = 0; t < T; ++t)
      EXPECT_EQ(std::memcmp(out.tensor.row_ptr(t), table.tensor.row_ptr(ids[t]), H * 2), 0);
  }
}

TEST_F(CudaOpsTest, RmsNormWithResidualAndBias) {
  for (int H : {64, 8 * r.uniform(1, 200), 2048, 4096}) {
    const int T = r.uniform(1, 50);
    for (bool with_res : {false, true})
      for (bool with_bias : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "T " << T << " H " << H << " res " << with_res << " bias " << with_bias);
        OwnedTensor x = host_bf16({T, H}), res = host_bf16({T, H}), w = host_bf16({H}, 0.3f), b = host_bf16({H});
        OwnedTensor dx = to_gpu(x), dres = to_gpu(res), dw = to_gpu(w), db = to_gpu(b);
        OwnedTensor dout(gpu->allocator(), DType::BF16, {T, H});
        OwnedTensor cres(cpu_allocator(), DType::F32, {T, H}), cout(cpu_allocator(), DType::F32, {T, H});
        for (int64_t i = 0; i < T * H; ++i) cres.tensor.data<float>()[i] = value(res.tensor, i);
        gpu->rms_norm(dx, dw, with_bias ? db.tensor : Tensor{}, 1e-6f, dout, with_res ? dres.tensor : Tensor{});
        cpu->rms_norm(x, w, with_bias ? b.tensor : Tensor{}, 1e-6f, cout, with_res ? cres.tensor : Tensor{});
        EXPECT_LT(rel_err(cout, to_host(dout)), 1e-2);
        if (with_res) {
          EXPECT_LT(rel_err(cres, to_host(dres)), 1e-2);
        }
      }
  }
}

TEST_F(CudaOpsTest, QkNormRopeWritesQAndCache) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), c235 = shared_config("qwen3-235b-a22b-instruct-2507");
  struct Heads {
    int hq, hkv, hd;
  };
  int shape = 0;
  for (Heads h : {Heads{8, 2, 64}, Heads{r.uniform(1, 6) * 4, 4, 128}, Heads{c30.num_heads, c30.num_kv_heads, 128},
                  Heads{c235.num_heads, c235.num_kv_heads, 128}}) {
    const int T = r.uniform(1, 60), hd = h.hd, bs = 16, nb = 8, max_pos = 4096;
    SCOPED_TRACE(::testing::Message() << "T " << T << " Hq " << h.hq << " Hkv " << h.hkv << " hd " << hd);
    const int width = (h.hq + 2 * h.hkv) * hd;
    OwnedTensor qkv = host_bf16({T, width}), qw = host_bf16({hd}, 0.3f), kw = host_bf16({hd}, 0.3f);
    for (int i = 0; i < hd; ++i) {
      qw.tensor.data<uint16_t>()[i] = f32_to_bf16(1.0f + value(qw.tensor, i));
      kw.tensor.data<uint16_t>()[i] = f32_to_bf16(1.0f + value(kw.tensor, i));
    }
    // Every other shape a YaRN table (Qwen3's long-context settings): its cos and sin carry
    // the attention factor (|cos| up to 1.14), which the kernel must take as it comes.
    RopeScaling yarn;
    yarn.type = "yarn";
    yarn.factor = 4.0;
    yarn.original_max_position_embeddings = 1024;
    const bool use_yarn = shape++ % 2 == 1;
    SCOPED_TRACE(use_yarn ? "yarn RoPE table" : "default RoPE table");
    const std::vector<float> table = rope_table(max_pos, hd, 1e6, use_yarn ? yarn : RopeScaling{});
    OwnedTensor rope(cpu_allocator(), DType::F32, {max_pos, hd});
    std::copy(table.begin(), table.end(), rope.tensor.data<float>());
    std::vector<int32_t> pos(T), slots(nb * bs);
    std::iota(slots.begin(), slots.end(), 0);
    std::shuffle(slots.begin(), slots.end(), r.g);
    slots.resize(T);
    for (int t = 0; t < T; ++t) {
      pos[t] = r.uniform(0, max_pos - 1);
      if (r.uniform(0, 9) == 0) slots[t] = -1;
    }
    OwnedTensor hpos = host_i32(pos, {T}), hslots = host_i32(slots, {T});
    OwnedTensor dqkv = to_gpu(qkv), dqw = to_gpu(qw), dkw = to_gpu(kw), drope = to_gpu(rope), dpos = to_gpu(hpos),
                dslots = to_gpu(hslots);
    OwnedTensor dk = gpu_zeros(DType::BF16, {nb, h.hkv, bs, hd}), dv = gpu_zeros(DType::BF16, {nb, h.hkv, bs, hd});
    OwnedTensor dq(gpu->allocator(), DType::BF16, {T, h.hq, hd});
    OwnedTensor ck(cpu_allocator(), DType::F32, {nb, h.hkv, bs, hd}), cv(cpu_allocator(), DType::F32, {nb, h.hkv, bs, hd}),
        cq(cpu_allocator(), DType::F32, {T, h.hq, hd});
    std::fill_n(ck.tensor.data<float>(), ck.tensor.numel(), 0.0f);
    std::fill_n(cv.tensor.data<float>(), cv.tensor.numel(), 0.0f);
    AttentionBatch gb, cb;
    gb.num_tokens = cb.num_tokens = T;
    gb.positions = dpos;
    gb.slot_mapping = dslots;
    cb.positions = hpos;
    cb.slot_mapping = hslots;
    gpu->qk_norm_rope(dqkv, dqw, dkw, 1e-6f, drope, gb, {dk, dv}, dq);
    cpu->qk_norm_rope(qkv, qw, kw, 1e-6f, rope, cb, {ck, cv}, cq);
    EXPECT_LT(rel_err(cq, to_host(dq)), 1e-2);
    EXPECT_LT(rel_err(ck, to_host(dk)), 1e-2);
    EXPECT_LT(rel_err(cv, to_host(dv)), 1e-2);
  }
}

// The e4m3 cache (--kv-cache-dtype fp8): k and v written as e4m3(x / scale) with given scales
// (small enough that some values saturate at 448) and with scales computed from the rows
// written (max|k| / 200, max|v| / 100). The GPU's f32 norm differs from the CPU's in the last
// bits, so a code may round the other way at a tie: at most 1 in 1000 differ, the dequantized
// caches within 1e-2, the computed scales within 1e-5.
TEST_F(CudaOpsTest, QkNormRopeWritesE4m3Cache) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), c235 = shared_config("qwen3-235b-a22b-instruct-2507");
  struct Heads {
    int hq, hkv, hd;
  };
  for (Heads h : {Heads{8, 2, 64}, Heads{c30.num_heads, c30.num_kv_heads, 128},
                  Heads{c235.num_heads, c235.num_kv_heads, 128}})
    for (bool calculate : {false, true}) {
      const int T = r.uniform(1, 60), hd = h.hd, bs = 16, nb = 8, max_pos = 4096;
      SCOPED_TRACE(::testing::Message() << "T " << T << " Hq " << h.hq << " Hkv " << h.hkv << " hd " << hd
                                        << (calculate ? ", computed scales" : ", given scales"));
      OwnedTensor qkv = host_bf16({T, (h.hq + 2 * h.hkv) * hd}, 2.0f), qw = host_bf16({hd}, 0.3f),
                  kw = host_bf16({hd}, 0.3f);
      for (int i = 0; i < hd; ++i) {
        qw.tensor.data<uint16_t>()[i] = f32_to_bf16(1.0f + value(qw.tensor, i));
        kw.tensor.data<uint16_t>()[i] = f32_to_bf16(1.0f + value(kw.tensor, i));
      }
      const std::vector<float> table = rope_table(max_pos, hd, 1e6, RopeScaling{});
      OwnedTensor rope(cpu_allocator(), DType::F32, {max_pos, hd});
      std::copy(table.begin(), table.end(), rope.tensor.data<float>());
      std::vector<int32_t> pos(T), slots(nb * bs);
      std::iota(slots.begin(), slots.end(), 0);
      std::shuffle(slots.begin(), slots.end(), r.g);
      slots.resize(T);
      for (int t = 0; t < T; ++t) {
        pos[t] = r.uniform(0, max_pos - 1);
        if (t > 0 && r.uniform(0, 9) == 0) slots[t] = -1;  // row 0 always written; no slot twice
      }
      OwnedTensor hpos = host_i32(pos, {T}), hslots = host_i32(slots, {T});
      OwnedTensor hscales(cpu_allocator(), DType::F32, {2});
      hscales.tensor.data<float>()[0] = 0.005f + 0.02f * std::abs(r.normal());
      hscales.tensor.data<float>()[1] = 0.005f + 0.02f * std::abs(r.normal());
      OwnedTensor dqkv = to_gpu(qkv), dqw = to_gpu(qw), dkw = to_gpu(kw), drope = to_gpu(rope),
                  dpos = to_gpu(hpos), dslots = to_gpu(hslots), dscales = to_gpu(hscales);
      const Shape cache_shape{nb, h.hkv, bs, hd};
      OwnedTensor dk = gpu_zeros(DType::F8E4M3, cache_shape), dv = gpu_zeros(DType::F8E4M3, cache_shape);
      OwnedTensor ck(cpu_allocator(), DType::F8E4M3, cache_shape), cv(cpu_allocator(), DType::F8E4M3, cache_shape);
      std::fill_n(ck.tensor.data<uint8_t>(), ck.tensor.numel(), uint8_t{0});
      std::fill_n(cv.tensor.data<uint8_t>(), cv.tensor.numel(), uint8_t{0});
      OwnedTensor dq(gpu->allocator(), DType::BF16, {T, h.hq, hd}), cq(cpu_allocator(), DType::F32, {T, h.hq, hd});
      AttentionBatch gb, cb;
      gb.num_tokens = cb.num_tokens = T;
      gb.positions = dpos;
      gb.slot_mapping = dslots;
      cb.positions = hpos;
      cb.slot_mapping = hslots;
      gpu->qk_norm_rope(dqkv, dqw, dkw, 1e-6f, drope, gb, LayerKVCache(dk, dv, dscales, calculate), dq);
      cpu->qk_norm_rope(qkv, qw, kw, 1e-6f, rope, cb, LayerKVCache(ck, cv, hscales, calculate), cq);
      EXPECT_LT(rel_err(cq, to_host(dq)), 1e-2);
      const OwnedTensor gs = to_host(dscales);
      for (int i = 0; i < 2; ++i)
        EXPECT_NEAR(gs.tensor.data<float>()[i], hscales.tensor.data<float>()[i],
                    1e-5 * hscales.tensor.data<float>()[i]) << (i ? "V scale" : "K scale");
      for (int kv = 0; kv < 2; ++kv) {
        const Tensor& ref = kv ? cv.tensor : ck.tensor;
        const OwnedTensor got = to_host(kv ? dv.tensor : dk.tensor);
        const float scale = hscales.tensor.data<float>()[kv];
        int64_t differ = 0;
        double num = 0, den = 0;
        for (int64_t i = 0; i < ref.numel(); ++i) {
          const uint8_t a = ref.data<uint8_t>()[i], b = got.tensor.data<uint8_t>()[i];
          differ += a != b;
          const double x = e4m3_to_f32(a) * scale, y = e4m3_to_f32(b) * scale;
          num += (x - y) * (x - y);
          den += x * x;
        }
        const int64_t written = std::count_if(slots.begin(), slots.end(), [](int32_t x) { return x >= 0; }) *
                                int64_t{h.hkv} * hd;
        EXPECT_LE(differ, written / 1000) << (kv ? "V" : "K") << " codes of " << written;
        EXPECT_LT(std::sqrt(num / den), 1e-2) << (kv ? "V" : "K");
      }
    }
}

// Column-slice outputs, bias, bf16 and f32 outputs, both paths (ours for M <= 256, cuBLAS
// above), random and real projection shapes.
TEST_F(CudaOpsTest, GemmMatchesCpu) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), c235 = shared_config("qwen3-235b-a22b-instruct-2507");
  struct Case {
    int M, N, K;
    bool f32_out;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 8; ++i)
    cases.push_back({r.uniform(1, 300), r.uniform(1, 300), 8 * r.uniform(1, 200), r.uniform(0, 1) == 1});
  for (const ModelConfig* c : {&c30, &c235}) {
    cases.push_back({32, c->qkv_size(), c->hidden_size, false});
    cases.push_back({7, c->hidden_size, c->q_size(), false});
    cases.push_back({300, c->qkv_size(), c->hidden_size, false});
    cases.push_back({32, c->num_experts, c->hidden_size, true});
    cases.push_back({1, c->qkv_size(), c->hidden_size, false});  // decode at batch 1 and 2: the GEMV kernels
    cases.push_back({1, c->hidden_size, c->q_size(), false});
    cases.push_back({2, c->num_experts, c->hidden_size, true});
    cases.push_back({8, c->qkv_size(), c->hidden_size, false});
  }
  cases.push_back({1, c30.vocab_size, c30.hidden_size, true});
  cases.push_back({4, c30.vocab_size, c30.hidden_size, true});
  cases.push_back({130, c30.hidden_size, c30.q_size(), false});  // 8 K splits, 3 row tiles
  for (const Case& cs : cases) {
    const int pad = r.uniform(0, 3) * 8;
    const bool bias = r.uniform(0, 3) == 0;
    SCOPED_TRACE(::testing::Message() << cs.M << "x" << cs.N << "x" << cs.K << " f32 " << cs.f32_out << " pad " << pad
                                      << " bias " << bias);
    OwnedTensor x = host_bf16({cs.M, cs.K}), w = host_bf16({cs.N, cs.K}, 1.0f / std::sqrt(float(cs.K))),
                b = host_f32({cs.N});
    OwnedTensor dx = to_gpu(x), dw = to_gpu(w), db = to_gpu(b);
    const DType odt = cs.f32_out ? DType::F32 : DType::BF16;
    OwnedTensor dout(gpu->allocator(), odt, {cs.M, cs.N + pad});
    OwnedTensor cout(cpu_allocator(), DType::F32, {cs.M, cs.N});
    LinearWeight gw = LinearWeight::dense(dw), cw = LinearWeight::dense(w);
    if (bias) {
      gw.bias = db;
      cw.bias = b;
    }
    gpu->gemm(dx, gw, dout.tensor.narrow(1, pad, cs.N));
    cpu->gemm(x, cw, cout);
    OwnedTensor got = to_host(dout);
    EXPECT_LT(rel_err(cout, got.tensor.narrow(1, pad, cs.N)), 1e-2);
  }
}

// A row's result does not depend on the rows around it within each small-M path: the GEMV
// kernels (up to cuda::kGemvRows rows: that many against the last alone) and the mma tiles
// (above, to 256: 40 rows against 12 of them), in 64-row W blocks (N 5120) and in narrow ones
// (N 128, a router). The default decode graph sizes (1, 2, 4, 8, 16, ...) never pad a batch
// across the two.
TEST_F(CudaOpsTest, SmallGemmRowsDoNotDependOnTheBatch) {
  const int K = 2048;
  for (const int N : {5120, 128}) {
    OwnedTensor x = host_bf16({40, K}), w = host_bf16({N, K}, 0.02f);
    OwnedTensor dx = to_gpu(x), dw = to_gpu(w);
    for (const auto& [all_rows, first, rows] :
         {std::tuple{40, 5, 12}, std::tuple{cuda::kGemvRows, cuda::kGemvRows - 1, 1}}) {
      SCOPED_TRACE(::testing::Message() << rows << " of " << all_rows << " rows, N " << N);
      OwnedTensor all(gpu->allocator(), DType::BF16, {all_rows, N}), few(gpu->allocator(), DType::BF16, {rows, N});
      gpu->gemm(dx.tensor.rows(0, all_rows), LinearWeight::dense(dw), all);
      gpu->gemm(dx.tensor.rows(first, first + rows), LinearWeight::dense(dw), few);
      OwnedTensor a = to_host(all), f = to_host(few);
      EXPECT_EQ(std::memcmp(a.tensor.row_ptr(first), f.tensor.data(), int64_t{rows} * N * 2), 0);
    }
  }
}

// The L2 prefetch changes no value: a weight prefetched in part or whole (also from 6 bytes in,
// so the range is trimmed to 16-byte bounds; some draws exceed the L2 budget) reads back as it
// was, and a GEMM after it gives the bits of the same GEMM without it.
TEST_F(CudaOpsTest, PrefetchL2ChangesNoValue) {
  const int K = 8 * r.uniform(64, 512), N = 16 * r.uniform(64, 4096);
  OwnedTensor x = host_bf16({r.uniform(1, 8), K}), w = host_bf16({N, K}, 0.02f);
  OwnedTensor dx = to_gpu(x), dw = to_gpu(w);
  OwnedTensor before(gpu->allocator(), DType::BF16, {x.tensor.size(0), N}),
      after(gpu->allocator(), DType::BF16, {x.tensor.size(0), N});
  gpu->gemm(dx, LinearWeight::dense(dw), before);
  const Tensor odd = dw.tensor.view({N * K}).narrow(0, 3, N * K - 7);
  for (const double ratio : {0.0, 0.37, 1.0}) {
    gpu->prefetch_l2(dw, ratio);
    gpu->prefetch_l2(odd, ratio);
  }
  gpu->gemm(dx, LinearWeight::dense(dw), after);
  OwnedTensor wb = to_host(dw), b = to_host(before), a = to_host(after);
  EXPECT_EQ(std::memcmp(wb.tensor.data(), w.tensor.data(), w.tensor.nbytes()), 0);
  EXPECT_EQ(std::memcmp(a.tensor.data(), b.tensor.data(), a.tensor.nbytes()), 0);
  EXPECT_THROW(gpu->prefetch_l2(dw, 1.5), Error);
}

// A paged cache with shuffled blocks, filled on the GPU; decodes first, then prefill chunks
// with cached prefixes (and chunks that are the whole context); the CPU attention reads the
// same cache.
struct PagedCase {
  int Hq, Hkv;
  std::vector<int> ctx, qlen;  // per sequence: context after the step, new tokens
};

void CudaOpsTest::paged_attention_matches_cpu(bool fp8) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), c235 = shared_config("qwen3-235b-a22b-instruct-2507");
  std::vector<PagedCase> cases;
  cases.push_back({8, 2, {1, 17, 700, 2100}, {1, 1, 1, 1}});
  cases.push_back({8, 2, {5, 300, 90}, {1, 200, 90}});
  cases.push_back({c30.num_heads, c30.num_kv_heads, {1500, 33, 400, 130}, {1, 1, 150, 130}});
  cases.push_back({c235.num_heads, c235.num_kv_heads, {2600, 700, 200}, {1, 1, 77}});
  cases.push_back({c30.num_heads, c30.num_kv_heads, {1500, 1000}, {1000, 1000}});  // many query tiles
  {
    PagedCase rc{4 * r.uniform(1, 4), 4, {}, {}};
    for (int s = 0; s < 5; ++s) {
      const bool decode = s < 2;
      const int q = decode ? 1 : r.uniform(1, 150);
      rc.qlen.push_back(q);
      rc.ctx.push_back(q + r.uniform(0, 1200));
    }
    cases.push_back(rc);
  }
  for (const int bs : {16, 48}) {  // 48: a block size that is not a power of two
    for (const int hd : {128, 64}) {
      for (const PagedCase& pc : cases) {
        const int S = static_cast<int>(pc.ctx.size());
        int nd = 0, T = 0, max_q = 0, max_len = 0, maxb = 0, total_blocks = 0;
        std::vector<int32_t> qs{0}, lens;
        for (int s = 0; s < S; ++s) {
          nd += pc.qlen[s] == 1 && nd == s;
          T += pc.qlen[s];
          qs.push_back(T);
          lens.push_back(pc.ctx[s]);
          max_q = std::max(max_q, pc.qlen[s]);
          max_len = std::max(max_len, pc.ctx[s]);
          maxb = std::max(maxb, (pc.ctx[s] + bs - 1) / bs);
          total_blocks += (pc.ctx[s] + bs - 1) / bs;
        }
        SCOPED_TRACE(::testing::Message() << (fp8 ? "e4m3" : "bf16") << " cache, bs " << bs << " hd " << hd << " Hq "
                                          << pc.Hq << " Hkv " << pc.Hkv << " S " << S << " decodes " << nd);
        const int nb = total_blocks + 3;
        std::vector<int32_t> free_blocks(nb), tables(S * maxb, 0);
        std::iota(free_blocks.begin(), free_blocks.end(), 0);
        std::shuffle(free_blocks.begin(), free_blocks.end(), r.g);
        for (int s = 0, f = 0; s < S; ++s)
          for (int b = 0; b < (pc.ctx[s] + bs - 1) / bs; ++b) tables[s * maxb + b] = free_blocks[f++];
        const RandomCache kv = random_cache({nb, pc.Hkv, bs, hd}, fp8);
        OwnedTensor q = host_bf16({T, pc.Hq, hd}), dq = to_gpu(q);
        OwnedTensor hqs = host_i32(qs, {S + 1}), hlens = host_i32(lens, {S}), htab = host_i32(tables, {S, maxb});
        OwnedTensor dqs = to_gpu(hqs), dlens = to_gpu(hlens), dtab = to_gpu(htab);
        AttentionBatch gb, cb;
        for (AttentionBatch* b : {&gb, &cb}) {
          b->num_tokens = T;
          b->num_seqs = S;
          b->num_decode_seqs = nd;
          b->max_query_len = max_q;
          b->max_seq_len = max_len;
          b->block_size = bs;
        }
        gb.query_start = dqs;
        gb.seq_lens = dlens;
        gb.block_tables = dtab;
        cb.query_start = hqs;
        cb.seq_lens = hlens;
        cb.block_tables = htab;
        const float scale = 1.0f / std::sqrt(float(hd));
        OwnedTensor dout(gpu->allocator(), DType::BF16, {T, pc.Hq * hd});
        OwnedTensor cout(cpu_allocator(), DType::F32, {T, pc.Hq * hd});
        if (nd > 0) {
          gpu->attention_decode(dq.tensor.rows(0, nd), kv.gpu(), gb, scale, dout.tensor.rows(0, nd));
          cpu->attention_decode(q.tensor.rows(0, nd), kv.cpu(), cb, scale, cout.tensor.rows(0, nd));
        }
        if (T > nd) {
          gpu->attention_prefill(dq.tensor.rows(nd, T), kv.gpu(), gb, scale, dout.tensor.rows(nd, T));
          cpu->attention_prefill(q.tensor.rows(nd, T), kv.cpu(), cb, scale, cout.tensor.rows(nd, T));
        }
        OwnedTensor got = to_host(dout);
        if (nd > 0) {
          EXPECT_LT(rel_err(cout.tensor.rows(0, nd), got.tensor.rows(0, nd)), 1e-2) << "decode";
        }
        if (T > nd) {
          EXPECT_LT(rel_err(cout.tensor.rows(nd, T), got.tensor.rows(nd, T)), 1e-2) << "prefill";
        }

        // Decode rows again with a longer grid (as a graph captured for max_model_len runs them):
        // the same bits.
        if (nd > 0) {
          OwnedTensor again(gpu->allocator(), DType::BF16, {nd, pc.Hq * hd});
          AttentionBatch wide = gb;
          wide.max_seq_len = max_len + 5000;
          gpu->attention_decode(dq.tensor.rows(0, nd), kv.gpu(), wide, scale, again);
          EXPECT_TRUE(same_bits(got.tensor.rows(0, nd), to_host(again).tensor));
        }
      }
    }
  }
}

TEST_F(CudaOpsTest, PagedAttentionMatchesCpu) { paged_attention_matches_cpu(false); }
TEST_F(CudaOpsTest, PagedAttentionE4m3CacheMatchesCpu) { paged_attention_matches_cpu(true); }

// Decode attention by a split plan (kernels/decode_plan.h, read by the kernel from device
// memory) against the CPU's planned and unsplit attention on random shapes (query groups of
// 1..20 heads: one or two blocks per KV head), contexts up to 20k, graph padding rows and
// plans: the backend's wave with random shortest splits, and smaller targets. The same plan
// under a grid sized for a longer context (a graph captured for max_model_len) gives the
// same bits.
void CudaOpsTest::planned_decode_attention_matches_cpu(bool fp8) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), c8 = shared_config("qwen3-235b-a22b-tp8-rank");
  struct Heads {
    int Hq, Hkv;
  };
  std::vector<Heads> heads{{c30.num_heads, c30.num_kv_heads}, {c8.num_heads, c8.num_kv_heads}, {40, 2}, {64, 4}};
  for (int trial = 0; trial < 16; ++trial) {
    const Heads hh = trial < 4 ? heads[trial] : Heads{0, 0};
    const int Hkv = hh.Hkv ? hh.Hkv : 1 << r.uniform(0, 2);
    const int Hq = hh.Hq ? hh.Hq : Hkv * r.uniform(1, 20);
    const int hd = trial % 3 == 2 ? 64 : 128, bs = trial % 2 ? 48 : 16;
    const int S = r.uniform(1, 6), num_real = r.uniform(1, S);
    std::vector<int32_t> lens(S, 1);
    for (int s = 0; s < num_real; ++s) lens[s] = r.uniform(1, r.uniform(0, 1) ? 20000 : 3000);
    const DecodeTables dt = decode_tables(lens, bs);
    const auto& [qs, tables, maxb, total, max_len] = dt;
    DecodeSplitParams p = gpu->decode_split_params(Hq, Hkv, hd, fp8);
    ASSERT_GE(p.target_items, 1);
    if (trial % 4 == 3) p.target_items = r.uniform(1, p.target_items);
    p.min_chunk = 16 * r.uniform(1, 32);
    const DecodePlan plan = plan_decode_splits(lens, num_real, p);
    SCOPED_TRACE(::testing::Message() << (fp8 ? "e4m3" : "bf16") << " cache, trial " << trial << " Hq " << Hq << " Hkv "
                                      << Hkv << " hd " << hd << " bs "
                                      << bs << " S " << S << " real " << num_real << " longest " << max_len
                                      << " items " << plan.items << " chunk " << plan.chunk);
    const RandomCache kv = random_cache({total + 2, Hkv, bs, hd}, fp8);
    OwnedTensor q = host_bf16({S, Hq, hd}), dq = to_gpu(q);
    OwnedTensor hqs = host_i32(qs, {S + 1}), hlens = host_i32(lens, {S}), htab = host_i32(tables, {S, maxb});
    OwnedTensor hplan = host_i32(plan.data, {static_cast<int64_t>(plan.data.size())});
    OwnedTensor dqs = to_gpu(hqs), dlens = to_gpu(hlens), dtab = to_gpu(htab), dplan = to_gpu(hplan);
    AttentionBatch gb, cb;
    for (AttentionBatch* b : {&gb, &cb}) {
      b->num_tokens = b->num_seqs = b->num_decode_seqs = S;
      b->max_query_len = 1;
      b->max_seq_len = max_len;
      b->block_size = bs;
    }
    gb.query_start = dqs;
    gb.seq_lens = dlens;
    gb.block_tables = dtab;
    gb.decode_plan = dplan;
    cb.query_start = hqs;
    cb.seq_lens = hlens;
    cb.block_tables = htab;
    const float scale = 1.0f / std::sqrt(float(hd));
    OwnedTensor dout(gpu->allocator(), DType::BF16, {S, Hq * hd});
    OwnedTensor whole(cpu_allocator(), DType::F32, {S, Hq * hd}), split(cpu_allocator(), DType::F32, {S, Hq * hd});
    gpu->attention_decode(dq, kv.gpu(), gb, scale, dout);
    cpu->attention_decode(q, kv.cpu(), cb, scale, whole);
    cb.decode_plan = hplan;
    cpu->attention_decode(q, kv.cpu(), cb, scale, split);
    OwnedTensor got = to_host(dout);
    EXPECT_LT(rel_err(split, got), 1e-2) << "against the CPU's planned attention";
    EXPECT_LT(rel_err(whole, got), 1e-2) << "against the CPU's unsplit attention";

    OwnedTensor again(gpu->allocator(), DType::BF16, {S, Hq * hd});
    AttentionBatch wide = gb;
    wide.max_seq_len = max_len + 40000;
    gpu->attention_decode(dq, kv.gpu(), wide, scale, again);
    EXPECT_TRUE(same_bits(got, to_host(again).tensor));
  }
}

TEST_F(CudaOpsTest, PlannedDecodeAttentionMatchesCpu) { planned_decode_attention_matches_cpu(false); }
TEST_F(CudaOpsTest, PlannedDecodeAttentionE4m3CacheMatchesCpu) { planned_decode_attention_matches_cpu(true); }

// A step of decode rows in one op with QK-norm + RoPE fused into the decode attention kernel
// (a backend made with ROTOR_FUSED_QK_ATTENTION=1) against qk_norm_rope, then attention_decode
// on a copy of the same inputs: the same output and the same whole K/V cache, bit for bit (the
// same arithmetic, kernels/cuda/norm_rope.cuh), and the output within 1e-2 of the CPU's op. On
// bf16 and e4m3 caches, head sizes 128 and 64, query groups of 4, 16 and 20 (20: two blocks
// of one KV head write the same bytes), fixed splits and split plans, contexts from 1 token
// to past two fixed splits, a graph padding row (slot -1) in some steps; an e4m3 cache asked to
// compute its scales takes the two ops (the same bits as well).
TEST_F(CudaOpsTest, FusedQkAttentionMatchesTwoOps) {
  const std::unique_ptr<Ops> fused = gpu_with_env("ROTOR_FUSED_QK_ATTENTION", "1");
  const int max_pos = 8192;
  for (int trial = 0; trial < 24; ++trial) {
    const bool fp8 = trial % 2 == 1, planned = trial % 4 >= 2, calculate = fp8 && trial % 8 == 7;
    const int hd = trial % 3 == 2 ? 64 : 128, bs = trial % 5 == 4 ? 48 : 16;
    const int group = std::array{4, 16, 20}[trial / 8], Hkv = 1 << r.uniform(0, 2), Hq = group * Hkv;
    const int S = r.uniform(1, 5), num_real = S - (S > 1 && r.uniform(0, 1) == 1);  // the last row padding
    std::vector<int32_t> lens(S, 1), pos(S, 0), slots(S, -1);
    for (int s = 0; s < num_real; ++s) lens[s] = r.uniform(0, 2) == 0 ? r.uniform(1, 40) : r.uniform(41, 5000);
    const DecodeTables dt = decode_tables(lens, bs);
    const auto& [qs, tables, maxb, total, max_len] = dt;
    for (int s = 0; s < num_real; ++s) {  // the new token: the context's last
      pos[s] = lens[s] - 1;
      slots[s] = tables[s * maxb + pos[s] / bs] * bs + pos[s] % bs;
    }
    SCOPED_TRACE(::testing::Message() << (fp8 ? "e4m3" : "bf16") << " cache" << (calculate ? " (computed scales)" : "")
                                      << ", trial " << trial << " Hq " << Hq << " Hkv " << Hkv << " hd " << hd
                                      << " bs " << bs << " S " << S << " real " << num_real << " longest " << max_len
                                      << (planned ? ", split plan" : ", fixed splits"));
    RandomCache kv = random_cache({total + 2, Hkv, bs, hd}, fp8);
    // The second GPU cache (and scales, which a calculating step writes), for the fused op.
    OwnedTensor fk = to_gpu(kv.hk), fv = to_gpu(kv.hv), fscales = fp8 ? to_gpu(kv.hscales) : OwnedTensor{};
    const LayerKVCache two_ops(kv.dk, kv.dv, kv.dscales, calculate), one_op(fk, fv, fscales, calculate);

    OwnedTensor qkv = host_bf16({S, (Hq + 2 * Hkv) * hd}, 2.0f), qw = host_bf16({hd}, 0.3f), kw = host_bf16({hd}, 0.3f);
    for (int i = 0; i < hd; ++i) {
      qw.tensor.data<uint16_t>()[i] = f32_to_bf16(1.0f + value(qw.tensor, i));
      kw.tensor.data<uint16_t>()[i] = f32_to_bf16(1.0f + value(kw.tensor, i));
    }
    RopeScaling yarn;
    yarn.type = "yarn";
    yarn.factor = 4.0;
    yarn.original_max_position_embeddings = 2048;
    const std::vector<float> table = rope_table(max_pos, hd, 1e6, trial % 3 == 1 ? yarn : RopeScaling{});
    OwnedTensor rope(cpu_allocator(), DType::F32, {max_pos, hd});
    std::copy(table.begin(), table.end(), rope.tensor.data<float>());
    OwnedTensor hqs = host_i32(qs, {S + 1}), hlens = host_i32(lens, {S}), htab = host_i32(tables, {S, maxb}),
                hpos = host_i32(pos, {S}), hslots = host_i32(slots, {S});
    OwnedTensor dqkv = to_gpu(qkv), dqw = to_gpu(qw), dkw = to_gpu(kw), drope = to_gpu(rope), dqs = to_gpu(hqs),
                dlens = to_gpu(hlens), dtab = to_gpu(htab), dpos = to_gpu(hpos), dslots = to_gpu(hslots);
    OwnedTensor dplan;
    AttentionBatch gb, cb;
    for (AttentionBatch* b : {&gb, &cb}) {
      b->num_tokens = b->num_seqs = b->num_decode_seqs = S;
      b->max_query_len = 1;
      b->max_seq_len = max_len;
      b->block_size = bs;
    }
    gb.positions = dpos;
    gb.slot_mapping = dslots;
    gb.query_start = dqs;
    gb.seq_lens = dlens;
    gb.block_tables = dtab;
    cb.positions = hpos;
    cb.slot_mapping = hslots;
    cb.query_start = hqs;
    cb.seq_lens = hlens;
    cb.block_tables = htab;
    if (planned) {
      DecodeSplitParams p = fused->decode_split_params(Hq, Hkv, hd, fp8);
      if (trial % 8 == 6) p.target_items = r.uniform(1, p.target_items);
      p.min_chunk = 16 * r.uniform(1, 32);
      const DecodePlan plan = plan_decode_splits(lens, num_real, p);
      dplan = to_gpu(host_i32(plan.data, {static_cast<int64_t>(plan.data.size())}));
      gb.decode_plan = dplan;
    }
    const float scale = 1.0f / std::sqrt(float(hd));
    OwnedTensor dq(gpu->allocator(), DType::BF16, {S, Hq, hd}), dq_scratch(gpu->allocator(), DType::BF16, {S, Hq, hd});
    OwnedTensor out_two(gpu->allocator(), DType::BF16, {S, Hq * hd}), out_one(gpu->allocator(), DType::BF16, {S, Hq * hd});
    // The two ops on the same backend: its split plans' grid (and so the merge) is the fused op's.
    fused->qk_norm_rope(dqkv, dqw, dkw, 1e-6f, drope, gb, two_ops, dq);
    fused->attention_decode(dq, two_ops, gb, scale, out_two);
    fused->qk_norm_rope_attention_decode(dqkv, dqw, dkw, 1e-6f, drope, gb, one_op, scale, dq_scratch, out_one);
    const OwnedTensor got = to_host(out_one);
    EXPECT_TRUE(same_bits(to_host(out_two).tensor, got.tensor)) << "output";
    EXPECT_TRUE(same_bits(to_host(kv.dk).tensor, to_host(fk).tensor)) << "K cache";
    EXPECT_TRUE(same_bits(to_host(kv.dv).tensor, to_host(fv).tensor)) << "V cache";
    if (fp8) {
      EXPECT_TRUE(same_bits(to_host(kv.dscales).tensor, to_host(fscales).tensor)) << "scales";
    }

    OwnedTensor cq(cpu_allocator(), DType::F32, {S, Hq, hd}), cout(cpu_allocator(), DType::F32, {S, Hq * hd});
    cpu->qk_norm_rope_attention_decode(qkv, qw, kw, 1e-6f, rope, cb,
                                       LayerKVCache(kv.hk, kv.hv, kv.hscales, calculate), scale, cq, cout);
    EXPECT_LT(rel_err(cout, got), 1e-2) << "against the CPU";

    // Again under a grid for a longer context (a graph captured for max_model_len): the same
    // output, and the cache rewritten with the same bytes.
    if (!planned && !calculate) {
      OwnedTensor again(gpu->allocator(), DType::BF16, {S, Hq * hd});
      AttentionBatch wide = gb;
      wide.max_seq_len = max_len + 5000;
      fused->qk_norm_rope_attention_decode(dqkv, dqw, dkw, 1e-6f, drope, wide, one_op, scale, dq_scratch, again);
      EXPECT_TRUE(same_bits(got, to_host(again).tensor)) << "longer grid";
      EXPECT_TRUE(same_bits(to_host(kv.dk).tensor, to_host(fk).tensor)) << "K cache, longer grid";
      EXPECT_TRUE(same_bits(to_host(kv.dv).tensor, to_host(fv).tensor)) << "V cache, longer grid";
    }
  }
}

TEST_F(CudaOpsTest, MoeRouteMatchesCpuAllowingTies) {
  for (int E : {16, 64, 128}) {
    const int T = r.uniform(1, 200), k = E == 16 ? 4 : 8;
    for (bool renorm : {true, false}) {
      OwnedTensor logits = host_f32({T, E}, 2.0f);
      OwnedTensor dl = to_gpu(logits), dw(gpu->allocator(), DType::F32, {T, k}), di(gpu->allocator(), DType::I32, {T, k});
      OwnedTensor cw(cpu_allocator(), DType::F32, {T, k}), ci(cpu_allocator(), DType::I32, {T, k});
      gpu->moe_route(dl, k, renorm, dw, di);
      cpu->moe_route(logits, k, renorm, cw, ci);
      OwnedTensor gw = to_host(dw), gi = to_host(di);
      EXPECT_LT(rel_err(cw, gw), 1e-5);
      for (int t = 0; t < T; ++t)
        for (int j = 0; j < k; ++j) {
          const int a = ci.tensor.data<int32_t>()[t * k + j], b = gi.tensor.data<int32_t>()[t * k + j];
          if (a == b) continue;
          const float* l = logits.tensor.data<float>() + t * E;  // a tie: equal logits
          EXPECT_NEAR(l[a], l[b], 1e-6f) << "token " << t << " rank " << j;
        }
    }
  }
}

// A MoE router's outputs on the GPU: logits [M, E] f32, top-k weights [M, k] f32 and ids
// [M, k] i32, filled with 0xff bytes (NaN, id -1) until an op writes them.
struct RouteOut {
  OwnedTensor logits, weights, ids;
  RouteOut(Ops& gpu, int M, int E, int k)
      : logits(gpu.allocator(), DType::F32, {M, E}),
        weights(gpu.allocator(), DType::F32, {M, k}),
        ids(gpu.allocator(), DType::I32, {M, k}) {
    poison(gpu);
  }
  void poison(Ops& gpu) const {
    for (const OwnedTensor* t : {&logits, &weights, &ids})
      EXPECT_EQ(cudaMemsetAsync(t->tensor.data(), 0xff, t->tensor.nbytes(), cuda_stream(gpu)), cudaSuccess);
  }
  void route(Ops& gpu, const Tensor& x, const LinearWeight& w, int k, bool renorm) const {
    gpu.route_experts(x, w, k, renorm, logits, weights, ids);
  }
  // The same through the two ops.
  void gemm_then_route(Ops& gpu, const Tensor& x, const LinearWeight& w, int k, bool renorm) const {
    gpu.gemm(x, w, logits);
    gpu.moe_route(logits, k, renorm, weights, ids);
  }
  // Whether o's three outputs have these bits.
  bool same_bits_as(Ops& gpu, const RouteOut& o) const {
    for (const auto& [a, b] : {std::pair{&logits, &o.logits}, {&weights, &o.weights}, {&ids, &o.ids}})
      if (!same_bits(test::to_host(gpu, a->tensor).tensor, test::to_host(gpu, b->tensor).tensor)) return false;
    return true;
  }
};

// The router in one op at decode sizes (E = 128 experts, top-8, K = 2048 and 4096: 30B-A3B and
// 235B-A22B). With ROTOR_FUSED_ROUTER=1, at 1 and 2 rows the GPU runs the GEMV with the top-k
// fused (one kernel whose last block routes); at 4 rows, by default, and with ROTOR_GEMV=0, the
// GEMM and moe_route. Either way its
// outputs are the same backend's gemm + moe_route bits, also when the fused kernel runs twice in
// a row (its block count back at 0 after each launch). Against the CPU's route_experts: logits
// within the GEMM test's bound, the top-k weights within 1e-4 (f32 logits a few ulps apart) and
// ids equal but where the CPU's logits of the two ids are a near-tie.
TEST_F(CudaOpsTest, RouteExpertsMatchesGemmThenMoeRoute) {
  const int E = 128, k = 8;
  std::unique_ptr<Ops> no_gemv = gpu_with_env("ROTOR_GEMV", "0"), fused_ops = gpu_with_env("ROTOR_FUSED_ROUTER", "1");
  for (int K : {2048, 4096})
    for (int M : {1, 2, 4})
      for (bool renorm : {true, false}) {
        SCOPED_TRACE(::testing::Message() << "M " << M << " K " << K << " renormalize " << renorm);
        OwnedTensor x = host_bf16({M, K}), w = host_bf16({E, K}, 1.0f / std::sqrt(float(K)));
        OwnedTensor dx = to_gpu(x), dw = to_gpu(w);
        const LinearWeight gw = LinearWeight::dense(dw), cw = LinearWeight::dense(w);
        for (Ops* ops : {fused_ops.get(), gpu.get(), no_gemv.get()}) {
          const char* which = ops == fused_ops.get() ? "fused" : ops == gpu.get() ? "default" : "ROTOR_GEMV=0";
          const RouteOut once(*ops, M, E, k), twice(*ops, M, E, k), two_ops(*ops, M, E, k);
          once.route(*ops, dx, gw, k, renorm);
          twice.route(*ops, dx, gw, k, renorm);
          two_ops.gemm_then_route(*ops, dx, gw, k, renorm);
          EXPECT_TRUE(once.same_bits_as(*ops, two_ops)) << which;
          EXPECT_TRUE(twice.same_bits_as(*ops, two_ops)) << which;
        }
        const RouteOut fused(*fused_ops, M, E, k);
        fused.route(*fused_ops, dx, gw, k, renorm);
        OwnedTensor cl(cpu_allocator(), DType::F32, {M, E}), ctw(cpu_allocator(), DType::F32, {M, k}),
            cti(cpu_allocator(), DType::I32, {M, k});
        cpu->route_experts(x, cw, k, renorm, cl, ctw, cti);
        const OwnedTensor gl = test::to_host(*fused_ops, fused.logits.tensor),
                          gtw = test::to_host(*fused_ops, fused.weights.tensor),
                          gti = test::to_host(*fused_ops, fused.ids.tensor);
        EXPECT_LT(rel_err(cl, gl), 1e-2);
        EXPECT_LT(rel_err(ctw, gtw), 1e-4);
        for (int m = 0; m < M; ++m)
          for (int j = 0; j < k; ++j) {
            const int a = cti.tensor.data<int32_t>()[m * k + j], b = gti.tensor.data<int32_t>()[m * k + j];
            if (a == b) continue;
            ASSERT_TRUE(b >= 0 && b < E) << "row " << m << " rank " << j << ": id " << b;
            const float* l = cl.tensor.data<float>() + m * E;  // a near-tie in the CPU's logits
            EXPECT_NEAR(l[a], l[b], 1e-4f) << "row " << m << " rank " << j;
          }
      }
}

// The fused router (ROTOR_FUSED_ROUTER=1) captured in a CUDA graph (two layers' routers: M = 1 at K = 2048, M = 2 at
// K = 4096, one ticket between them) and replayed twice, its outputs poisoned before each
// replay: each replay gives the eager bits.
TEST_F(CudaOpsTest, RouteExpertsReplaysFromAGraph) {
  const int E = 128, k = 8;
  const std::unique_ptr<Ops> fused = gpu_with_env("ROTOR_FUSED_ROUTER", "1");
  Ops& ops = *fused;
  struct Layer {
    int M, K;
    OwnedTensor x, w;
  };
  std::vector<Layer> layers;
  for (const auto& [M, K] : {std::pair{1, 2048}, std::pair{2, 4096}})
    layers.push_back({M, K, to_gpu(host_bf16({M, K})), to_gpu(host_bf16({E, K}, 1.0f / std::sqrt(float(K))))});
  std::vector<RouteOut> eager, replay;
  for (const Layer& l : layers) {
    eager.emplace_back(ops, l.M, E, k);
    replay.emplace_back(ops, l.M, E, k);
  }
  auto step = [&](const std::vector<RouteOut>& outs) {
    for (size_t i = 0; i < layers.size(); ++i)
      outs[i].route(ops, layers[i].x, LinearWeight::dense(layers[i].w), k, i == 0);
  };
  step(eager);
  ops.synchronize();
  const std::unique_ptr<CudaGraph> graph = CudaGraph::capture(ops, [&] { step(replay); });
  for (int run = 0; run < 2; ++run) {
    for (const RouteOut& o : replay) o.poison(ops);
    graph->replay();
    ops.synchronize();
    for (size_t i = 0; i < layers.size(); ++i)
      EXPECT_TRUE(eager[i].same_bits_as(ops, replay[i])) << "replay " << run << ", layer " << i;
  }
}

// Experts on random data at decode and prefill sizes: small shapes and the real per-layer
// shapes. The GPU weights are made by fill_random and copied back for the CPU op.
TEST_F(CudaOpsTest, MoeExpertsMatchCpu) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), c235 = shared_config("qwen3-235b-a22b-instruct-2507"),
                    tp8 = shared_config("qwen3-235b-a22b-tp8-rank");
  struct Case {
    int H, I, E, k;
    std::vector<int> tokens;
  };
  // Token counts cover the small-batch path where the default takes it (a TP-8 rank's experts
  // at 1 and 2 tokens; MoeSmallPathMatchesTiles runs it everywhere it can run) and the three
  // tile heights (16, 64 and 128 rows per expert tile).
  std::vector<Case> cases = {{64, 64, 16, 4, {1, 5, 300, 700}},
                             {8 * r.uniform(1, 40), 8 * r.uniform(1, 40), 32, 4, {r.uniform(1, 40), 600, 1100}},
                             {c30.hidden_size, c30.moe_intermediate_size, c30.num_experts, c30.num_experts_per_tok,
                              {1, 2, 3, 8, 32, 600, 2100}},
                             {c235.hidden_size, c235.moe_intermediate_size, c235.num_experts,
                              c235.num_experts_per_tok, {1, 8, 32, 300}},
                             // one tensor-parallel-8 rank's experts (I = 192: the short-K down tiles)
                             {tp8.hidden_size, tp8.moe_intermediate_size, tp8.num_experts, tp8.num_experts_per_tok,
                              {1, 2, 3, 8, 32}}};
  for (const Case& cs : cases) {
    auto [d13, h13] = random_pair({cs.E, 2 * cs.I, cs.H}, 1.0f / std::sqrt(float(cs.H)), r.g());
    auto [d2, h2] = random_pair({cs.E, cs.H, cs.I}, 1.0f / std::sqrt(float(cs.I)), r.g());
    ExpertWeights ge, ce;
    for (ExpertWeights* e : {&ge, &ce}) {
      e->num_experts = cs.E;
      e->hidden = cs.H;
      e->inter = cs.I;
    }
    ge.w13 = d13;
    ge.w2 = d2;
    for (int e = 0; e < cs.E; ++e) {
      const Tensor w13 = h13.tensor.rows(e, e + 1).view({2 * cs.I, cs.H});
      ce.gate.push_back(LinearWeight::dense(w13.rows(0, cs.I)));
      ce.up.push_back(LinearWeight::dense(w13.rows(cs.I, 2 * cs.I)));
      ce.down.push_back(LinearWeight::dense(h2.tensor.rows(e, e + 1).view({cs.H, cs.I})));
    }
    for (int T : cs.tokens) {
      SCOPED_TRACE(::testing::Message() << "H " << cs.H << " I " << cs.I << " E " << cs.E << " k " << cs.k << " T "
                                        << T);
      OwnedTensor x = host_bf16({T, cs.H});
      OwnedTensor logits = host_f32({T, cs.E}, 2.0f);
      OwnedTensor tw(cpu_allocator(), DType::F32, {T, cs.k}), ti(cpu_allocator(), DType::I32, {T, cs.k});
      cpu->moe_route(logits, cs.k, true, tw, ti);
      OwnedTensor dx = to_gpu(x), dtw = to_gpu(tw), dti = to_gpu(ti);
      OwnedTensor dout(gpu->allocator(), DType::BF16, {T, cs.H}), cout(cpu_allocator(), DType::F32, {T, cs.H});
      gpu->moe_experts(dx, dtw, dti, ge, dout);
      cpu->moe_experts(x, tw, ti, ce, cout);
      OwnedTensor got = to_host(dout);
      EXPECT_LT(rel_err(cout, got), 1e-2);
      // Deterministic, and a token's output does not depend on the other tokens on one path
      // (the token alone takes the small path: a batch on the tiles is bf16 rounding apart).
      OwnedTensor again(gpu->allocator(), DType::BF16, {T, cs.H});
      gpu->moe_experts(dx, dtw, dti, ge, again);
      EXPECT_TRUE(same_bits(got, to_host(again)));
      if (T > 1) {
        OwnedTensor one(gpu->allocator(), DType::BF16, {1, cs.H});
        gpu->moe_experts(dx.tensor.rows(T - 1, T), dtw.tensor.rows(T - 1, T), dti.tensor.rows(T - 1, T), ge, one);
        OwnedTensor alone = to_host(one);
        if (small_path(T, cs.k, cs.I) == small_path(1, cs.k, cs.I))
          EXPECT_TRUE(same_bits(got.tensor.rows(T - 1, T), alone));
        else
          EXPECT_LT(rel_err(got.tensor.rows(T - 1, T), alone), kSmallVsTiles);
      }
    }
  }
}

// Expert parallelism: a slice of whole experts (first_expert, num_experts) on the GPU against
// the same slice on the CPU; ids outside it add nothing, so the slices sum to all experts.
TEST_F(CudaOpsTest, MoeExpertSlicesMatchCpu) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b");
  struct Case {
    int H, I, E, k;
  };
  for (const Case& cs : {Case{64, 64, 16, 4}, Case{c30.hidden_size, c30.moe_intermediate_size, c30.num_experts,
                                                     c30.num_experts_per_tok}}) {
    auto [d13, h13] = random_pair({cs.E, 2 * cs.I, cs.H}, 1.0f / std::sqrt(float(cs.H)), r.g());
    auto [d2, h2] = random_pair({cs.E, cs.H, cs.I}, 1.0f / std::sqrt(float(cs.I)), r.g());
    for (int T : {1, 3, 8, 32, 600}) {
      OwnedTensor x = host_bf16({T, cs.H});
      OwnedTensor logits = host_f32({T, cs.E}, 2.0f);
      OwnedTensor tw(cpu_allocator(), DType::F32, {T, cs.k}), ti(cpu_allocator(), DType::I32, {T, cs.k});
      cpu->moe_route(logits, cs.k, true, tw, ti);
      OwnedTensor dx = to_gpu(x), dtw = to_gpu(tw), dti = to_gpu(ti);
      for (int parts : {2, 4}) {
        std::vector<float> sum(static_cast<size_t>(T) * cs.H, 0.0f);
        for (int p = 0; p < parts; ++p) {
          const int n = cs.E / parts, first = p * n;
          SCOPED_TRACE(::testing::Message() << "H " << cs.H << " E " << cs.E << " T " << T << " experts [" << first
                                            << ", " << first + n << ")");
          ExpertWeights ge, ce;
          for (ExpertWeights* e : {&ge, &ce}) {
            e->num_experts = n;
            e->first_expert = first;
            e->hidden = cs.H;
            e->inter = cs.I;
          }
          ge.w13 = d13.tensor.rows(first, first + n);
          ge.w2 = d2.tensor.rows(first, first + n);
          for (int e = first; e < first + n; ++e) {
            const Tensor w13 = h13.tensor.rows(e, e + 1).view({2 * cs.I, cs.H});
            ce.gate.push_back(LinearWeight::dense(w13.rows(0, cs.I)));
            ce.up.push_back(LinearWeight::dense(w13.rows(cs.I, 2 * cs.I)));
            ce.down.push_back(LinearWeight::dense(h2.tensor.rows(e, e + 1).view({cs.H, cs.I})));
          }
          OwnedTensor dout(gpu->allocator(), DType::BF16, {T, cs.H}), cout(cpu_allocator(), DType::F32, {T, cs.H});
          gpu->fill_random(dout, 7, 0.0f, 1.0f);  // every row must be written, zeros included
          gpu->moe_experts(dx, dtw, dti, ge, dout);
          cpu->moe_experts(x, tw, ti, ce, cout);
          OwnedTensor got = to_host(dout);
          EXPECT_LT(rel_err(cout, got), 1e-2);
          for (int64_t i = 0; i < T * cs.H; ++i) sum[i] += bf16_to_f32(got.tensor.data<uint16_t>()[i]);
        }
        ExpertWeights all;
        all.num_experts = cs.E;
        all.hidden = cs.H;
        all.inter = cs.I;
        all.w13 = d13;
        all.w2 = d2;
        OwnedTensor dall(gpu->allocator(), DType::BF16, {T, cs.H});
        gpu->moe_experts(dx, dtw, dti, all, dall);
        OwnedTensor whole = to_host(dall);
        double num = 0, den = 0;
        for (int64_t i = 0; i < T * cs.H; ++i) {
          const double ref = bf16_to_f32(whole.tensor.data<uint16_t>()[i]);
          num += (sum[i] - ref) * (sum[i] - ref);
          den += ref * ref;
        }
        EXPECT_LT(std::sqrt(num / std::max(den, 1e-30)), 1e-2) << parts << " slices summed";
      }
    }
  }
}

// The experts' small-batch path (moe_small.cuh; a backend made with ROTOR_MOE_SMALL=all)
// against the tiles (one made with ROTOR_MOE_SMALL=0) at batches 1, 2, 3 and 8, on all experts and on the second half of them
// (expert parallelism: first != 0, the other ids add nothing): within kSmallVsTiles, and every
// row written. Shapes: small ones, Qwen3-30B-A3B's layer, a tensor-parallel-8 rank of
// Qwen3-235B-A22B (H 4096, I 192).
TEST_F(CudaOpsTest, MoeSmallPathMatchesTiles) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), tp8 = shared_config("qwen3-235b-a22b-tp8-rank");
  std::unique_ptr<Ops> tiles = gpu_with_env("ROTOR_MOE_SMALL", "0"), small = gpu_with_env("ROTOR_MOE_SMALL", "all");
  struct Case {
    int H, I, E, k;
  };
  const std::vector<Case> cases = {
      {64, 64, 16, 4},
      {8 * r.uniform(1, 40), 8 * r.uniform(1, 40), 32, 4},
      {c30.hidden_size, c30.moe_intermediate_size, c30.num_experts, c30.num_experts_per_tok},
      {tp8.hidden_size, tp8.moe_intermediate_size, tp8.num_experts, tp8.num_experts_per_tok}};
  for (const Case& cs : cases) {
    OwnedTensor d13(gpu->allocator(), DType::BF16, {cs.E, 2 * cs.I, cs.H});
    OwnedTensor d2(gpu->allocator(), DType::BF16, {cs.E, cs.H, cs.I});
    gpu->fill_random(d13, r.g(), 0.0f, 1.0f / std::sqrt(float(cs.H)));
    gpu->fill_random(d2, r.g(), 0.0f, 1.0f / std::sqrt(float(cs.I)));
    for (int T : {1, 2, 3, 8}) {
      ASSERT_LE(T * cs.k, cuda::kMoeSmallSlots);
      OwnedTensor x = host_bf16({T, cs.H});
      OwnedTensor logits = host_f32({T, cs.E}, 2.0f);
      OwnedTensor tw(cpu_allocator(), DType::F32, {T, cs.k}), ti(cpu_allocator(), DType::I32, {T, cs.k});
      cpu->moe_route(logits, cs.k, true, tw, ti);
      OwnedTensor dx = to_gpu(x), dtw = to_gpu(tw), dti = to_gpu(ti);
      for (const int first : {0, cs.E / 2}) {
        SCOPED_TRACE(::testing::Message() << "H " << cs.H << " I " << cs.I << " E " << cs.E << " k " << cs.k << " T "
                                          << T << " experts [" << first << ", " << cs.E << ")");
        ExpertWeights ex;
        ex.num_experts = cs.E - first;
        ex.first_expert = first;
        ex.hidden = cs.H;
        ex.inter = cs.I;
        ex.w13 = d13.tensor.rows(first, cs.E);
        ex.w2 = d2.tensor.rows(first, cs.E);
        OwnedTensor dsmall(gpu->allocator(), DType::BF16, {T, cs.H}), dtiles(gpu->allocator(), DType::BF16, {T, cs.H});
        gpu->fill_random(dsmall, 7, 0.0f, 1.0f);  // every row must be written, zeros included
        gpu->synchronize();
        small->moe_experts(dx, dtw, dti, ex, dsmall);
        tiles->moe_experts(dx, dtw, dti, ex, dtiles);
        small->synchronize();
        tiles->synchronize();
        OwnedTensor small = to_host(dsmall), tiled = to_host(dtiles);
        const double err = rel_err(tiled, small);
        EXPECT_LT(err, kSmallVsTiles);
        std::printf("moe_experts small vs tiles H %d I %d k %d T %d first %d: rel err %.2e\n", cs.H, cs.I, cs.k, T,
                    first, err);
      }
    }
  }
}

TEST_F(CudaOpsTest, SampleDrawsLikeTheCpu) {
  for (int V : {1000, 151936}) {
    const int S = 64;
    OwnedTensor logits = host_f32({S, V}, 3.0f);
    std::vector<float> temp(S), top_p(S), min_p(S);
    std::vector<int32_t> top_k(S);
    std::vector<int64_t> seed(S), counter(S);
    for (int s = 0; s < S; ++s) {
      const int kind = s % 8;
      temp[s] = kind == 0 ? 0.0f : (kind == 1 ? 1.0f : 0.3f + 0.2f * r.uniform(0, 6));
      top_k[s] = kind == 2 || kind == 5 ? r.uniform(1, 100) : (kind == 6 ? V : 0);
      top_p[s] = kind == 3 || kind == 5 ? 0.05f * r.uniform(1, 19) : (kind == 7 ? 0.0f : 1.0f);
      min_p[s] = kind == 4 ? 0.05f * r.uniform(1, 10) : 0.0f;
      seed[s] = static_cast<int64_t>(r.g());
      counter[s] = r.uniform(0, 1000);
    }
    OwnedTensor ht(cpu_allocator(), DType::F32, {S}), hk = host_i32(top_k, {S}), hp(cpu_allocator(), DType::F32, {S}),
        hm(cpu_allocator(), DType::F32, {S}), hs(cpu_allocator(), DType::I64, {S}), hc(cpu_allocator(), DType::I64, {S});
    std::copy(temp.begin(), temp.end(), ht.tensor.data<float>());
    std::copy(top_p.begin(), top_p.end(), hp.tensor.data<float>());
    std::copy(min_p.begin(), min_p.end(), hm.tensor.data<float>());
    std::copy(seed.begin(), seed.end(), hs.tensor.data<int64_t>());
    std::copy(counter.begin(), counter.end(), hc.tensor.data<int64_t>());
    OwnedTensor dl = to_gpu(logits), dt = to_gpu(ht), dk = to_gpu(hk), dp = to_gpu(hp), dm = to_gpu(hm),
                ds = to_gpu(hs), dc = to_gpu(hc);
    OwnedTensor dout(gpu->allocator(), DType::I32, {S}), cout(cpu_allocator(), DType::I32, {S});
    gpu->sample(dl, {dt, dk, dp, dm, ds, dc}, dout);
    cpu->sample(logits, {ht, hk, hp, hm, hs, hc}, cout);
    OwnedTensor got = to_host(dout);
    int same = 0;
    for (int s = 0; s < S; ++s) {
      const int a = cout.tensor.data<int32_t>()[s], b = got.tensor.data<int32_t>()[s];
      same += a == b;
      if (temp[s] == 0.0f) {
        EXPECT_EQ(a, b) << "greedy row " << s;
      }
      if (a != b) std::printf("sample V %d row %d (T %.2f k %d p %.2f min_p %.2f): cpu %d gpu %d\n", V, s, temp[s],
                              top_k[s], top_p[s], min_p[s], a, b);
    }
    // Rounding of exp/log differs in the last bit between the host and device libraries:
    // a draw may flip only where two candidates' scores agree to ~1e-7.
    EXPECT_GE(same, S - 1) << "V " << V;
  }
}

// Random ragged token lists: ids drawn from a small pool per row (so repeats happen), some
// rows empty, some long.
std::vector<std::vector<int32_t>> token_lists(Rand& r, int S, int V, int max_len) {
  std::vector<std::vector<int32_t>> out(S);
  for (auto& l : out) {
    const int pool = r.uniform(1, 64);
    const int len = r.uniform(0, 7) == 0 ? 0 : r.uniform(1, max_len);
    std::vector<int32_t> ids(pool);
    for (auto& id : ids) id = r.uniform(0, V - 1);
    l.resize(len);
    for (auto& t : l) t = ids[r.uniform(0, pool - 1)];
  }
  return out;
}

std::pair<std::vector<int32_t>, std::vector<int32_t>> flatten(const std::vector<std::vector<int32_t>>& lists) {
  std::vector<int32_t> flat, start{0};
  for (const auto& l : lists) {
    flat.insert(flat.end(), l.begin(), l.end());
    start.push_back(static_cast<int32_t>(flat.size()));
  }
  return {flat, start};
}

// Largest |got - ref| / max(1, |ref|) over two host f32 tensors of the same shape (inf == inf).
double max_rel_diff(const Tensor& ref, const Tensor& got) {
  double worst = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const float a = ref.data<float>()[i], b = got.data<float>()[i];
    if (a == b) continue;
    if (std::isnan(b) || std::isinf(a) || std::isinf(b)) return INFINITY;
    worst = std::max(worst, std::abs(double(a) - b) / std::max(1.0, std::abs(double(a))));
  }
  return worst;
}

TEST_F(CudaOpsTest, PenaltiesMatchCpu) {
  struct Case {
    int S, V, max_len;
  };
  for (const Case c : {Case{1, 1000, 40}, Case{r.uniform(2, 40), r.uniform(2, 5000), 300}, Case{256, 151936, 600},
                       Case{r.uniform(1, 256), 151936, 3000}}) {
    SCOPED_TRACE(::testing::Message() << "S " << c.S << " V " << c.V);
    OwnedTensor logits = host_f32({c.S, c.V}, 3.0f);
    std::vector<float> rep(c.S), pres(c.S), freq(c.S);
    for (int s = 0; s < c.S; ++s) {
      rep[s] = r.uniform(0, 3) == 0 ? 1.0f : 0.5f + 0.1f * r.uniform(0, 20);
      pres[s] = r.uniform(0, 3) == 0 ? 0.0f : 0.5f * r.normal();
      freq[s] = r.uniform(0, 3) == 0 ? 0.0f : 0.5f * r.normal();
    }
    const auto [prompt, prompt_start] = flatten(token_lists(r, c.S, c.V, c.max_len));
    const auto [output, output_start] = flatten(token_lists(r, c.S, c.V, c.max_len));
    auto f32 = [&](const std::vector<float>& v) {
      OwnedTensor t(cpu_allocator(), DType::F32, {static_cast<int64_t>(v.size())});
      std::copy(v.begin(), v.end(), t.tensor.data<float>());
      return t;
    };
    auto i32 = [&](const std::vector<int32_t>& v) { return host_i32(v, {static_cast<int64_t>(v.size())}); };
    OwnedTensor hrep = f32(rep), hpres = f32(pres), hfreq = f32(freq), hp = i32(prompt), hps = i32(prompt_start),
                ho = i32(output), hos = i32(output_start);
    OwnedTensor drep = to_gpu(hrep), dpres = to_gpu(hpres), dfreq = to_gpu(hfreq), dp = to_gpu(hp), dps = to_gpu(hps),
                dout = to_gpu(ho), dos = to_gpu(hos), dl = to_gpu(logits);
    gpu->apply_penalties(dl, {drep, dpres, dfreq, dp, dps, dout, dos});
    cpu->apply_penalties(logits, {hrep, hpres, hfreq, hp, hps, ho, hos});
    // The same float operations in the same order; only the host compiler may fuse the
    // frequency term's multiply-add. That changes one rounding of terms up to ~16 in size
    // (ulp/2 ~ 1e-6), and the result can cancel to below 1: seen at 1.09e-6 on an H200.
    EXPECT_LE(max_rel_diff(logits, to_host(dl)), 4e-6);
  }
}

TEST_F(CudaOpsTest, MaskTokensMatchesCpu) {
  for (int V : {r.uniform(2, 3000), 151936}) {
    const int S = r.uniform(1, 256);
    OwnedTensor logits = host_f32({S, V});
    const auto [ids, start] = flatten(token_lists(r, S, V, 20));
    OwnedTensor hids = host_i32(ids, {static_cast<int64_t>(ids.size())}), hst = host_i32(start, {S + 1});
    OwnedTensor dl = to_gpu(logits), dids = to_gpu(hids), dst = to_gpu(hst);
    gpu->mask_tokens(dl, dids, dst);
    cpu->mask_tokens(logits, hids, hst);
    EXPECT_TRUE(same_bits(logits, to_host(dl))) << "S " << S << " V " << V;
  }
}

TEST_F(CudaOpsTest, TokenBitmaskMatchesCpu) {
  for (int V : {r.uniform(2, 3000), 151936}) {
    const int S = r.uniform(1, 256), W = (V + 31) / 32;
    OwnedTensor logits = host_f32({S, V});
    std::vector<int32_t> rows;
    for (int s = 0; s < S; ++s)
      if (r.uniform(0, 2)) rows.push_back(s);
    std::shuffle(rows.begin(), rows.end(), r.g);
    const int N = static_cast<int>(rows.size());
    std::vector<int32_t> bits(static_cast<size_t>(N) * W);
    for (size_t i = 0; i < bits.size(); ++i)
      bits[i] = i % 3 == 0 ? -1 : i % 3 == 1 ? 0 : static_cast<int32_t>(r.g());  // all set, none, random
    OwnedTensor hbits = host_i32(bits, {N, W}), hrows = host_i32(rows, {N});
    OwnedTensor dl = to_gpu(logits), dbits = to_gpu(hbits), drows = to_gpu(hrows);
    gpu->apply_token_bitmask(dl, dbits, drows);
    cpu->apply_token_bitmask(logits, hbits, hrows);
    EXPECT_TRUE(same_bits(logits, to_host(dl))) << "S " << S << " V " << V << " N " << N;
  }
}

TEST_F(CudaOpsTest, LogprobsMatchCpu) {
  struct Case {
    int S, V, K;
    bool ties;
  };
  for (const Case c : {Case{1, 1000, 0, false}, Case{r.uniform(2, 64), r.uniform(20, 5000), r.uniform(1, 20), true},
                       Case{256, 151936, 20, false}, Case{r.uniform(1, 256), 151936, r.uniform(1, 5), true},
                       Case{7, 151936, 1024, true}, Case{5, 33, 33, true}}) {
    SCOPED_TRACE(::testing::Message() << "S " << c.S << " V " << c.V << " K " << c.K << " ties " << c.ties);
    OwnedTensor logits = host_f32({c.S, c.V}, 3.0f);
    if (c.ties)  // coarse values: many exact ties, at the top and at the K-th place
      for (int64_t i = 0; i < logits.tensor.numel(); ++i)
        logits.tensor.data<float>()[i] = std::round(logits.tensor.data<float>()[i] * 2.0f) * 0.5f;
    std::vector<int32_t> tok(c.S);
    for (auto& t : tok) t = r.uniform(0, c.V - 1);
    OwnedTensor htok = host_i32(tok, {c.S});
    OwnedTensor clp(cpu_allocator(), DType::F32, {c.S}), crank(cpu_allocator(), DType::I32, {c.S});
    OwnedTensor dl = to_gpu(logits), dtok = to_gpu(htok), dlp(gpu->allocator(), DType::F32, {c.S}),
                drank(gpu->allocator(), DType::I32, {c.S});
    OwnedTensor cids, clps, dids, dlps;
    if (c.K > 0) {
      cids = OwnedTensor(cpu_allocator(), DType::I32, {c.S, c.K});
      clps = OwnedTensor(cpu_allocator(), DType::F32, {c.S, c.K});
      dids = OwnedTensor(gpu->allocator(), DType::I32, {c.S, c.K});
      dlps = OwnedTensor(gpu->allocator(), DType::F32, {c.S, c.K});
    }
    gpu->logprobs(dl, dtok, dlp, drank, dids.tensor, dlps.tensor);
    cpu->logprobs(logits, htok, clp, crank, cids.tensor, clps.tensor);
    EXPECT_LE(max_rel_diff(clp, to_host(dlp)), 1e-6);
    EXPECT_TRUE(same_bits(crank, to_host(drank)));
    if (c.K > 0) {
      EXPECT_TRUE(same_bits(cids, to_host(dids)));
      EXPECT_LE(max_rel_diff(clps, to_host(dlps)), 1e-6);
    }
  }
}

TEST_F(CudaOpsTest, CopyTokensMatchesCpu) {
  const int n_src = r.uniform(1, 300), n_dst = r.uniform(1, 3000), n = r.uniform(0, std::min(256, n_dst));
  std::vector<int32_t> src(n_src), dst(n_dst, -1), from(n), to(n_dst);
  for (auto& v : src) v = r.uniform(0, 151935);
  for (auto& v : from) v = r.uniform(0, n_src - 1);
  std::iota(to.begin(), to.end(), 0);
  std::shuffle(to.begin(), to.end(), r.g);
  to.resize(n);  // distinct destinations
  OwnedTensor hs = host_i32(src, {n_src}), hd = host_i32(dst, {n_dst}), hf = host_i32(from, {n}), ht = host_i32(to, {n});
  OwnedTensor ds = to_gpu(hs), dd = to_gpu(hd), df = to_gpu(hf), dt = to_gpu(ht);
  gpu->copy_tokens(ds, df, dd, dt);
  cpu->copy_tokens(hs, hf, hd, ht);
  EXPECT_TRUE(same_bits(hd, to_host(dd)));
}

// e4m3 (the FP8 KV cache of the decode benchmark's fake context): cvt.rn.satfinite against
// core/fp8.h, std 2 reaching past 448 to check saturation.
TEST_F(CudaOpsTest, FillRandomIsBitIdenticalToCpu) {
  for (DType dt : {DType::BF16, DType::F32, DType::F8E4M3}) {
    const int64_t n = r.uniform(1, 100000);
    const uint64_t seed = r.g();
    OwnedTensor d(gpu->allocator(), dt, {n}), h(cpu_allocator(), dt, {n});
    const float std = dt == DType::F8E4M3 ? 200.0f : 0.02f;
    gpu->fill_random(d, seed, 0.5f, std);
    cpu->fill_random(h, seed, 0.5f, std);
    EXPECT_TRUE(same_bits(h, to_host(d))) << dtype_name(dt);
  }
}

}  // namespace
}  // namespace rotor
