// tests/kernels/test_cuda_w8a8.cpp — the W8A8 CUDA ops against the CPU ops (the oracle) on
// random shapes and fresh random data, and on the per-layer shapes of Qwen3-30B-A3B,
// Qwen3-235B-A22B and its tensor-parallel ranks. Quantisation and GEMM outputs must equal the
// CPU's bit for bit (exact i32 sums; the epilogue's double arithmetic is the CPU's), the fused
// norm's int8 may be one off on a rare element (its statistics are summed in another order),
// and the experts must agree within bf16 rounding (their SiLU uses the device's expf, and the
// per-slot outputs are bf16). Every output is poisoned first and column slices must leave
// their neighbours alone; the wgmma tiles must equal the mma.sync fallback (a second backend
// made with ROTOR_W8A8_WGMMA=0), and so must the experts' small-batch path (moe_small.cuh, a
// backend made with ROTOR_MOE_SMALL=all) equal the tiles (one made with ROTOR_MOE_SMALL=0), on
// all experts and on a slice of them, and so must the decode tiles' quantisation in align's
// launch equal its own launch (ROTOR_FUSED_ALIGN=0), and the resident-tile down GEMM (by
// default and with ROTOR_RESIDENT_DOWN=all) the two-an-SM wgmma blocks (=0); a static linear quantising inside its GEMV
// (ROTOR_FUSED_QUANT=1, with and without ROTOR_EARLY_LOADS=1) must equal the CPU's two ops;
// an expert token's output must not depend on the batch; the ops replayed from a CUDA graph must
// give the eager bits. Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/bf16.h"
#include "engine/runner/cuda_graph.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemv.cuh"
#include "kernels/cuda/moe_w8a8.cuh"
#include "kernels/ops.h"
#include "tests/support/device_copy.h"
#include "tests/support/random_tensors.h"
#include "model/config.h"

namespace rotor {
namespace {

using test::Rand;

ModelConfig shared_config(const std::string& name) {
  return ModelConfig::load(std::string(ROTOR_SHARED_DIR) + "/configs/" + name + "/config.json");
}

// Bytes from xorshift64* (fast enough for a few GB of expert weights).
void random_bytes(void* p, size_t n, uint64_t seed) {
  uint64_t s = seed | 1;
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < n; i += 8) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    const uint64_t v = s * 0x2545F4914F6CDD1Dull;
    std::memcpy(b + i, &v, std::min<size_t>(8, n - i));
  }
}

// Rows of two host views of one shape (either may be strided) that differ in any byte.
int64_t rows_differing(const Tensor& a, const Tensor& b) {
  const size_t bytes = static_cast<size_t>(a.size(1)) * dtype_size(a.dtype());
  int64_t n = 0;
  for (int64_t t = 0; t < a.size(0); ++t) n += std::memcmp(a.row_ptr(t), b.row_ptr(t), bytes) != 0;
  return n;
}

class CudaW8A8Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
    r.print_seed();
    gpu = make_cuda_ops(0);
    // gpu_mma: every GEMM on the mma.sync tiles (neither wgmma nor the GEMV kernels).
    gpu_mma = make_cuda_ops_with_env({{"ROTOR_W8A8_WGMMA", "0"}, {"ROTOR_GEMV", "0"}});
    gpu_tiles = gpu_with_env("ROTOR_MOE_SMALL", "0");
    gpu_small = gpu_with_env("ROTOR_MOE_SMALL", "all");
    gpu_unfused = gpu_with_env("ROTOR_FUSED_ALIGN", "0");
    gpu_blocks = gpu_with_env("ROTOR_RESIDENT_DOWN", "0");
    gpu_resident = gpu_with_env("ROTOR_RESIDENT_DOWN", "all");
    cpu = make_cpu_ops();
  }
  // A GPU backend made with var=value in the environment (read when a backend is made).
  static std::unique_ptr<Ops> gpu_with_env(const char* var, const char* value) {
    return make_cuda_ops_with_env({{var, value}});
  }
  OwnedTensor host(DType dt, Shape s) { return OwnedTensor(cpu_allocator(), dt, s); }
  OwnedTensor host_i8(Shape s, bool allow_min = false) {
    OwnedTensor t = host(DType::I8, s);
    random_bytes(t.tensor.data(), t.tensor.nbytes(), r.g());
    if (!allow_min)  // weights and per-token activations stay within [-127, 127]
      for (int64_t i = 0; i < t.tensor.numel(); ++i)
        if (t.tensor.data<int8_t>()[i] == -128) t.tensor.data<int8_t>()[i] = 127;
    return t;
  }
  OwnedTensor host_bf16(Shape s, float scale = 1.0f, float mean = 0.0f) {
    OwnedTensor t = host(DType::BF16, s);
    for (int64_t i = 0; i < t.tensor.numel(); ++i) t.tensor.data<uint16_t>()[i] = f32_to_bf16(mean + scale * r.normal());
    return t;
  }
  OwnedTensor host_f32(Shape s, float lo, float hi) {
    OwnedTensor t = host(DType::F32, s);
    for (int64_t i = 0; i < t.tensor.numel(); ++i) t.tensor.data<float>()[i] = r.uniform(lo, hi);
    return t;
  }
  OwnedTensor host_i32(Shape s, int lo, int hi) {
    OwnedTensor t = host(DType::I32, s);
    for (int64_t i = 0; i < t.tensor.numel(); ++i) t.tensor.data<int32_t>()[i] = r.uniform(lo, hi);
    return t;
  }
  OwnedTensor to_gpu(const Tensor& h) { return test::to_device(*gpu, h); }
  OwnedTensor to_host(const Tensor& d) { return test::to_host(*gpu, d); }
  // A GPU tensor of random bytes (what the op must overwrite) and the host copy of them.
  std::pair<OwnedTensor, OwnedTensor> poisoned(DType dt, Shape s) {
    OwnedTensor h = host(dt, s);
    random_bytes(h.tensor.data(), h.tensor.nbytes(), r.g());
    OwnedTensor d = to_gpu(h);
    return {std::move(d), std::move(h)};
  }
  // Columns of wide [rows, cols] outside [lead, lead + n) are still the poison.
  static bool outside_untouched(const Tensor& got, const Tensor& poison, int64_t lead, int64_t n) {
    const size_t es = dtype_size(got.dtype()), row = static_cast<size_t>(got.size(1)) * es;
    for (int64_t t = 0; t < got.size(0); ++t) {
      const auto* a = static_cast<const uint8_t*>(got.row_ptr(t));
      const auto* b = static_cast<const uint8_t*>(poison.row_ptr(t));
      if (std::memcmp(a, b, lead * es) != 0 || std::memcmp(a + (lead + n) * es, b + (lead + n) * es,
                                                           row - (lead + n) * es) != 0)
        return false;
    }
    return true;
  }

  std::unique_ptr<Ops> gpu, gpu_mma, gpu_tiles, gpu_small, gpu_unfused, gpu_blocks, gpu_resident, cpu;
  Rand r;
};

float value(const Tensor& t, int64_t i) {
  return t.dtype() == DType::BF16 ? bf16_to_f32(t.data<uint16_t>()[i]) : t.data<float>()[i];
}

double rel_err(const Tensor& ref, const Tensor& got) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double a = value(ref, i), b = value(got, i);
    if (std::isnan(b)) return INFINITY;
    num += (a - b) * (a - b);
    den += a * a;
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

TEST_F(CudaW8A8Test, QuantStaticMatchesCpuExactly) {
  struct Case {
    int T, K;
    float scale, offset;
    bool ties;  // values on exact half steps of the scale: rint must round half to even
  };
  const std::vector<Case> cases = {{1, 64, 0.02f, 0.0f, false},
                                   {r.uniform(1, 300), 8 * r.uniform(1, 300), r.uniform(0.005f, 0.05f),
                                    static_cast<float>(r.uniform(-20, 20)), false},
                                   {700, 2048, 0.015f, 3.37f, false},
                                   {r.uniform(1, 64), 4096, 1.0f / 32, -5.0f, true},
                                   {33, 8192, 0.03f, 7.0f, true}};
  for (const Case& c : cases) {
    const int padx = 8 * r.uniform(0, 2), pado = 8 * r.uniform(0, 2);
    SCOPED_TRACE(::testing::Message() << "T " << c.T << " K " << c.K << " scale " << c.scale << " offset " << c.offset
                                      << " ties " << c.ties << " pads " << padx << "/" << pado);
    OwnedTensor x = host_bf16({c.T, c.K + padx}, 2.5f);
    if (c.ties)  // half the rows: (k + 0.5) * scale, exact in bf16 for |k + 0.5| < 128
      for (int t = 0; t < c.T; t += 2)
        for (int k = 0; k < c.K + padx; ++k)
          static_cast<uint16_t*>(x.tensor.row_ptr(t))[k] = f32_to_bf16((r.uniform(-127, 126) + 0.5f) * c.scale);
    const Tensor xv = x.tensor.narrow(1, padx, c.K);
    OwnedTensor dx = to_gpu(x);
    auto [dout, poison] = poisoned(DType::I8, {c.T, c.K + pado});
    gpu->quant_static(dx.tensor.narrow(1, padx, c.K), c.scale, c.offset, dout.tensor.narrow(1, pado, c.K));
    OwnedTensor cout = host(DType::I8, {c.T, c.K});
    cpu->quant_static(xv, c.scale, c.offset, cout);
    OwnedTensor got = to_host(dout);
    EXPECT_EQ(rows_differing(cout, got.tensor.narrow(1, pado, c.K)), 0);
    EXPECT_TRUE(outside_untouched(got, poison, pado, c.K));
  }
}

TEST_F(CudaW8A8Test, QuantPerTokenMatchesCpuExactly) {
  for (const auto& [T, K] : {std::pair{1, 64}, {r.uniform(2, 300), 8 * r.uniform(1, 300)}, {700, 2048}, {37, 4096},
                            {5, 8192}, {3, 10000}}) {
    const int padx = 8 * r.uniform(0, 2), pado = 8 * r.uniform(0, 2);
    SCOPED_TRACE(::testing::Message() << "T " << T << " K " << K);
    OwnedTensor x = host_bf16({T, K + padx}, r.uniform(0.1f, 10.0f));
    if (T > 2) {  // a zero row (scale 1e-12) and a row with one outlier
      std::memset(x.tensor.row_ptr(1), 0, (K + padx) * 2);
      static_cast<uint16_t*>(x.tensor.row_ptr(2))[padx + r.uniform(0, K - 1)] = f32_to_bf16(-1000.0f);
    }
    OwnedTensor dx = to_gpu(x);
    auto [dout, poison] = poisoned(DType::I8, {T, K + pado});
    auto [dscales, spoison] = poisoned(DType::F32, {T});
    gpu->quant_per_token(dx.tensor.narrow(1, padx, K), dout.tensor.narrow(1, pado, K), dscales);
    OwnedTensor cout = host(DType::I8, {T, K}), cscales = host(DType::F32, {T});
    cpu->quant_per_token(x.tensor.narrow(1, padx, K), cout, cscales);
    OwnedTensor got = to_host(dout), gs = to_host(dscales);
    EXPECT_EQ(rows_differing(cout, got.tensor.narrow(1, pado, K)), 0);
    EXPECT_TRUE(outside_untouched(got, poison, pado, K));
    EXPECT_EQ(std::memcmp(cscales.tensor.data(), gs.tensor.data(), T * 4), 0);
  }
}

TEST_F(CudaW8A8Test, RmsNormQuantMatchesCpu) {
  for (const int H : {64, 8 * r.uniform(1, 200), 2048, 4096}) {
    const int T = H == 2048 ? 300 : r.uniform(1, 50);
    for (const bool with_res : {false, true})
      for (const bool with_bias : {false, true}) {
        const float scale = r.uniform(3.0f, 5.0f) / 127, offset = static_cast<float>(r.uniform(-8, 8));
        SCOPED_TRACE(::testing::Message() << "T " << T << " H " << H << " res " << with_res << " bias " << with_bias);
        OwnedTensor x = host_bf16({T, H}), res = host_bf16({T, H}), w = host_bf16({H}, 0.2f, 1.0f),
                    b = host_bf16({H}, 0.1f);
        OwnedTensor dx = to_gpu(x), dres = to_gpu(res), dw = to_gpu(w), db = to_gpu(b);
        auto [dout, poison] = poisoned(DType::I8, {T, H});
        OwnedTensor cout = host(DType::I8, {T, H});
        const Tensor bias = with_bias ? b.tensor : Tensor{};
        gpu->rms_norm_quant(dx, dw, with_bias ? db.tensor : Tensor{}, 1e-6f, scale, offset, dout,
                            with_res ? dres.tensor : Tensor{});
        cpu->rms_norm_quant(x, w, bias, 1e-6f, scale, offset, cout, with_res ? res.tensor : Tensor{});  // bf16 residual, as the GPU's
        OwnedTensor got = to_host(dout);
        int64_t off = 0, far = 0;
        for (int64_t i = 0; i < int64_t{T} * H; ++i) {
          const int d = std::abs(cout.tensor.data<int8_t>()[i] - got.tensor.data<int8_t>()[i]);
          off += d != 0;
          far += d > 1;
        }
        EXPECT_EQ(far, 0);
        EXPECT_LE(off, int64_t{T} * H / 10000 + 1) << off << " of " << int64_t{T} * H << " one off";
        if (with_res) {
          EXPECT_EQ(rows_differing(res, to_host(dres)), 0);
        }
      }
  }
}

// One W8A8 layer's weight on the host and its GPU copy.
struct W8A8Weight {
  OwnedTensor w, deq, qb, ws, dw, ddeq, dqb, dws;
  LinearWeight host, dev;
};

TEST_F(CudaW8A8Test, GemmW8A8MatchesCpuBitForBit) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), c235 = shared_config("qwen3-235b-a22b-instruct-2507"),
                    tp4 = shared_config("qwen3-235b-a22b-tp4-rank"), tp8 = shared_config("qwen3-235b-a22b-tp8-rank");
  struct Case {
    int M, N, K;
    bool dynamic, bias, f32;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 8; ++i)
    cases.push_back({r.uniform(1, 300), r.uniform(1, 300), 16 * r.uniform(1, 200), r.uniform(0, 1) == 1,
                     r.uniform(0, 1) == 1, r.uniform(0, 1) == 1});
  for (const int M : {1, 8, 16, 17, 32, 33, 64, 65, 256, 257})  // every tile path, partial tiles
    cases.push_back({M, 5120, 2048, M % 2 == 1, true, M % 3 == 0});
  for (const ModelConfig* c : {&c30, &c235, &tp4, &tp8})
    for (const int M : {32, 300}) {
      const int hd = c->head_dim;
      cases.push_back({M, c->num_heads * hd, c->hidden_size, false, true, false});     // q
      cases.push_back({M, c->num_kv_heads * hd, c->hidden_size, false, true, false});  // k, v
      cases.push_back({M, c->hidden_size, c->num_heads * hd, false, M == 32, false});  // o (bias on one rank)
    }
  for (const int M : {1, 8, 32, 300}) cases.push_back({M, 8192, 8192, true, false, false});
  for (const int M : {1, 3, 4, 8}) {  // decode at small batch (GEMV up to 4 rows): a TP-8 rank's q/k/v and o_proj
    cases.push_back({M, (tp8.num_heads + 2 * tp8.num_kv_heads) * tp8.head_dim, tp8.hidden_size, false, true, M == 3});
    cases.push_back({M, tp8.hidden_size, tp8.num_heads * tp8.head_dim, M == 8, false, false});
  }
  cases.push_back({2048, 4096, 2048, false, true, false});
  for (const Case& cs : cases) {
    const int pad = r.uniform(0, 3), lead = r.uniform(0, pad);
    SCOPED_TRACE(::testing::Message() << cs.M << "x" << cs.N << "x" << cs.K << " dynamic " << cs.dynamic << " bias "
                                      << cs.bias << " f32 " << cs.f32 << " pad " << pad << " lead " << lead);
    W8A8Weight wt;
    wt.w = host_i8({cs.N, cs.K});
    wt.deq = host_f32({cs.N}, 1e-4f, 2e-3f);
    wt.qb = host_i32({cs.N}, -200000, 200000);
    wt.ws = host_f32({cs.N}, 1e-3f, 1e-2f);
    wt.dw = to_gpu(wt.w);
    wt.ddeq = to_gpu(wt.deq);
    wt.dqb = to_gpu(wt.qb);
    wt.dws = to_gpu(wt.ws);
    for (const bool dev : {false, true}) {
      LinearWeight& l = dev ? wt.dev : wt.host;
      l.kind = cs.dynamic ? QuantKind::W8A8Dynamic : QuantKind::W8A8Static;
      l.weight = dev ? wt.dw.tensor : wt.w.tensor;
      l.deq_scale = dev ? wt.ddeq.tensor : wt.deq.tensor;
      if (cs.bias) l.quant_bias = dev ? wt.dqb.tensor : wt.qb.tensor;
      l.weight_scale = dev ? wt.dws.tensor : wt.ws.tensor;
    }
    OwnedTensor x = host_i8({cs.M, cs.K}, !cs.dynamic), xs = host_f32({cs.M}, 1e-3f, 2e-2f);
    OwnedTensor dx = to_gpu(x), dxs = to_gpu(xs);
    const DType odt = cs.f32 ? DType::F32 : DType::BF16;
    OwnedTensor cout = host(odt, {cs.M, cs.N});
    cpu->gemm_w8a8(x, cs.dynamic ? xs.tensor : Tensor{}, wt.host, cout);
    // Many rows: the wgmma tiles and the mma.sync fallback; up to kGemvRowsW8A8: the GEMV
    // kernels and the mma.sync tiles (gpu_mma runs with ROTOR_GEMV=0); between: one path.
    for (Ops* ops : {gpu.get(), gpu_mma.get()}) {
      if (ops == gpu_mma.get() && cs.M <= 256 && cs.M > cuda::kGemvRowsW8A8) continue;
      auto [dout, poison] = poisoned(odt, {cs.M, cs.N + pad});
      ops->gemm_w8a8(dx, cs.dynamic ? dxs.tensor : Tensor{}, wt.dev, dout.tensor.narrow(1, lead, cs.N));
      OwnedTensor got = to_host(dout);
      EXPECT_EQ(rows_differing(cout, got.tensor.narrow(1, lead, cs.N)), 0) << (ops == gpu.get() ? "wgmma" : "mma");
      EXPECT_TRUE(outside_untouched(got, poison, lead, cs.N));
    }
  }
}

// A static W8A8 linear on bf16 activations (linear_w8a8_static) equals the CPU's quant_static
// then gemm_w8a8 bit for bit: by default (two kernels), with ROTOR_FUSED_QUANT=1 (one GEMV
// kernel quantising x itself, up to kGemvRowsW8A8 rows; the two kernels above), and with both
// that and ROTOR_EARLY_LOADS=1 (the GEMV's weights loaded before pdl_wait), and the plain W8A8
// GEMV with early loads too. x is a column slice of a wider tensor; scales and offsets put
// values on the clamp and on half steps. Shapes: a TP-8 rank's and 30B-A3B's o_proj, the full
// 235B's (K = 8192 at 4 rows: the most x a block keeps), random ones.
TEST_F(CudaW8A8Test, LinearW8A8StaticMatchesCpuBitForBit) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), c235 = shared_config("qwen3-235b-a22b-instruct-2507"),
                    tp8 = shared_config("qwen3-235b-a22b-tp8-rank");
  const std::unique_ptr<Ops> fused = gpu_with_env("ROTOR_FUSED_QUANT", "1"),
                             early = make_cuda_ops_with_env({{"ROTOR_FUSED_QUANT", "1"}, {"ROTOR_EARLY_LOADS", "1"}});
  struct Case {
    int M, N, K;
  };
  std::vector<Case> cases;
  for (const ModelConfig* c : {&tp8, &c30, &c235})
    for (const int M : {1, 2, 3, 4, 8}) cases.push_back({M, c->hidden_size, c->num_heads * c->head_dim});
  for (int i = 0; i < 6; ++i) cases.push_back({r.uniform(1, 5), r.uniform(1, 700), 16 * r.uniform(1, 300)});
  for (const Case& cs : cases) {
    const int pad = 8 * r.uniform(0, 2);
    const float scale = r.uniform(0.005f, 0.05f), offset = static_cast<float>(r.uniform(-20, 20));
    SCOPED_TRACE(::testing::Message() << cs.M << "x" << cs.N << "x" << cs.K << " pad " << pad << " scale " << scale
                                      << " offset " << offset);
    W8A8Weight wt;
    wt.w = host_i8({cs.N, cs.K});
    wt.deq = host_f32({cs.N}, 1e-4f, 2e-3f);
    wt.qb = host_i32({cs.N}, -200000, 200000);
    wt.dw = to_gpu(wt.w);
    wt.ddeq = to_gpu(wt.deq);
    wt.dqb = to_gpu(wt.qb);
    for (const bool dev : {false, true}) {
      LinearWeight& l = dev ? wt.dev : wt.host;
      l.kind = QuantKind::W8A8Static;
      l.weight = dev ? wt.dw.tensor : wt.w.tensor;
      l.deq_scale = dev ? wt.ddeq.tensor : wt.deq.tensor;
      l.quant_bias = dev ? wt.dqb.tensor : wt.qb.tensor;
      l.input_scale = scale;
      l.input_offset = offset;
    }
    OwnedTensor x = host_bf16({cs.M, cs.K + pad}, 3.0f);
    for (int k = 0; k < cs.K + pad; k += 7)  // some values on half steps of the scale
      static_cast<uint16_t*>(x.tensor.row_ptr(0))[k] = f32_to_bf16((r.uniform(-127, 126) + 0.5f) * scale);
    const Tensor xv = x.tensor.narrow(1, pad, cs.K);
    OwnedTensor dx = to_gpu(x), cxq = host(DType::I8, {cs.M, cs.K}), cout = host(DType::BF16, {cs.M, cs.N});
    cpu->linear_w8a8_static(xv, wt.host, cxq, cout);
    OwnedTensor ref = host(DType::BF16, {cs.M, cs.N}), rq = host(DType::I8, {cs.M, cs.K});
    cpu->quant_static(xv, scale, offset, rq);
    cpu->gemm_w8a8(rq, Tensor{}, wt.host, ref);
    EXPECT_EQ(rows_differing(ref, cout), 0) << "the CPU's op against its two ops";
    for (Ops* ops : {gpu.get(), fused.get(), early.get()}) {
      const char* which = ops == gpu.get() ? "default" : ops == fused.get() ? "fused" : "fused + early loads";
      auto [dout, poison] = poisoned(DType::BF16, {cs.M, cs.N});
      OwnedTensor dxq = poisoned(DType::I8, {cs.M, cs.K}).first;
      ops->linear_w8a8_static(dx.tensor.narrow(1, pad, cs.K), wt.dev, dxq, dout);
      EXPECT_EQ(rows_differing(cout, to_host(dout).tensor), 0) << which;
    }
    OwnedTensor dq = to_gpu(rq);  // the plain GEMV with early loads
    OwnedTensor dout = poisoned(DType::BF16, {cs.M, cs.N}).first;
    early->gemm_w8a8(dq, Tensor{}, wt.dev, dout);
    EXPECT_EQ(rows_differing(cout, to_host(dout).tensor), 0) << "gemm_w8a8, early loads";
  }
}

// With unit scales the f32 output is the i32 sum itself (exact below 2^24): checked against
// sums taken here, independently of the CPU op.
TEST_F(CudaW8A8Test, GemmW8A8SumsAreExact) {
  for (const int M : {5, 37, 300}) {
    const int N = 200, K = 4096;
    OwnedTensor x = host_i8({M, K}, true), w = host_i8({N, K}), deq = host(DType::F32, {N});
    std::fill_n(deq.tensor.data<float>(), N, 1.0f);
    OwnedTensor dx = to_gpu(x), dw = to_gpu(w), ddeq = to_gpu(deq);
    LinearWeight l;
    l.kind = QuantKind::W8A8Static;
    l.weight = dw;
    l.deq_scale = ddeq;
    for (Ops* ops : {gpu.get(), gpu_mma.get()}) {
      auto [dout, poison] = poisoned(DType::F32, {M, N});
      ops->gemm_w8a8(dx, Tensor{}, l, dout);
      OwnedTensor got = to_host(dout);
      int64_t wrong = 0;
      for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n) {
          int64_t s = 0;
          for (int k = 0; k < K; ++k) s += x.tensor.data<int8_t>()[m * K + k] * w.tensor.data<int8_t>()[n * K + k];
          wrong += got.tensor.data<float>()[m * N + n] != static_cast<float>(s);
        }
      EXPECT_EQ(wrong, 0) << "M " << M;
    }
  }
}

// Stacked int8 experts (w13 [E, 2I, H], w2 [E, H, I] and their scales) on the GPU, with the
// per-expert W8A8Dynamic views the CPU op reads.
struct Experts {
  OwnedTensor w13, w2, s13, s2, d13, d2, ds13, ds2;
  ExpertWeights host, dev;
};

// Experts [first, first + n) of `e` (expert parallelism's slice of a rank).
ExpertWeights expert_slice(const ExpertWeights& e, int first, int n) {
  ExpertWeights s = e;
  s.num_experts = n;
  s.first_expert = first;
  s.w13 = e.w13.rows(first, first + n);
  s.w2 = e.w2.rows(first, first + n);
  s.w13_scale = e.w13_scale.rows(first, first + n);
  s.w2_scale = e.w2_scale.rows(first, first + n);
  s.gate.assign(e.gate.begin() + first, e.gate.begin() + first + n);
  s.up.assign(e.up.begin() + first, e.up.begin() + first + n);
  s.down.assign(e.down.begin() + first, e.down.begin() + first + n);
  return s;
}

// The 16-row gate+up tiles' depth by load, on the shapes it was measured on (an H100's 132 SMs,
// perf-log 2026-12-06 08:02): 3 stages where they were faster (a TP-8 rank of 235B-A22B at batch
// 32, 30B-A3B from batch 4), 4 where 3 were slower (the rank at batch 4 and 8).
TEST(MoeW8A8GateUpDepth, ThreeStagesWhereFourOverrunTheSms) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), tp8 = shared_config("qwen3-235b-a22b-tp8-rank");
  const auto three = [](const ModelConfig& c, int T) {
    return cuda::gate_up_3_stages(T, c.num_experts_per_tok, c.num_experts, c.moe_intermediate_size, 132);
  };
  for (int T : {1, 2, 4, 8, 16}) EXPECT_FALSE(three(tp8, T)) << T;
  EXPECT_TRUE(three(tp8, 32));
  for (int T : {4, 8, 16, 32}) EXPECT_TRUE(three(c30, T)) << T;
}

TEST_F(CudaW8A8Test, MoeExpertsW8A8MatchCpu) {
  const ModelConfig c30 = shared_config("qwen3-30b-a3b"), c235 = shared_config("qwen3-235b-a22b-instruct-2507"),
                    tp4 = shared_config("qwen3-235b-a22b-tp4-rank"), tp8 = shared_config("qwen3-235b-a22b-tp8-rank");
  struct Case {
    int H, I, E, k;
    std::vector<int> tokens;
  };
  // Token counts cover the small-batch path (up to 64 slots: 1, 2, 3, 8 tokens at top-8) and
  // the three tile heights (16, 64 and 128 rows per expert tile).
  std::vector<Case> cases = {{64, 64, 16, 4, {1, 2, 3, 8, 300, 700}},
                             {16 * r.uniform(1, 40), 16 * r.uniform(1, 40), 32, 4, {r.uniform(1, 40), 600, 1100}}};
  for (const ModelConfig* c : {&c30, &tp8})
    cases.push_back({c->hidden_size, c->moe_intermediate_size, c->num_experts, c->num_experts_per_tok,
                     {1, 2, 3, 8, 32, 700, 2100}});
  for (const ModelConfig* c : {&c235, &tp4})
    cases.push_back({c->hidden_size, c->moe_intermediate_size, c->num_experts, c->num_experts_per_tok, {1, 8, 32, 300}});
  for (const Case& cs : cases) {
    Experts ex;
    ex.w13 = host_i8({cs.E, 2 * cs.I, cs.H});
    ex.w2 = host_i8({cs.E, cs.H, cs.I});
    ex.s13 = host_f32({cs.E, 2 * cs.I}, 0.5f, 1.5f);
    ex.s2 = host_f32({cs.E, cs.H}, 0.5f, 1.5f);
    for (int64_t i = 0; i < ex.s13.tensor.numel(); ++i) ex.s13.tensor.data<float>()[i] *= 2.0f / (127 * std::sqrt(float(cs.H)));
    for (int64_t i = 0; i < ex.s2.tensor.numel(); ++i) ex.s2.tensor.data<float>()[i] *= 2.0f / (127 * std::sqrt(float(cs.I)));
    ex.d13 = to_gpu(ex.w13);
    ex.d2 = to_gpu(ex.w2);
    ex.ds13 = to_gpu(ex.s13);
    ex.ds2 = to_gpu(ex.s2);
    for (const bool dev : {false, true}) {
      ExpertWeights& e = dev ? ex.dev : ex.host;
      e.num_experts = cs.E;
      e.hidden = cs.H;
      e.inter = cs.I;
      e.w13 = dev ? ex.d13.tensor : ex.w13.tensor;
      e.w2 = dev ? ex.d2.tensor : ex.w2.tensor;
      e.w13_scale = dev ? ex.ds13.tensor : ex.s13.tensor;
      e.w2_scale = dev ? ex.ds2.tensor : ex.s2.tensor;
      for (int i = 0; i < cs.E; ++i) {
        const Tensor w13 = e.w13.rows(i, i + 1).view({2 * cs.I, cs.H}), s13 = e.w13_scale.rows(i, i + 1).view({2 * cs.I});
        LinearWeight g, u, d;
        g.kind = u.kind = d.kind = QuantKind::W8A8Dynamic;
        g.weight = w13.rows(0, cs.I);
        g.weight_scale = s13.narrow(0, 0, cs.I);
        u.weight = w13.rows(cs.I, 2 * cs.I);
        u.weight_scale = s13.narrow(0, cs.I, cs.I);
        d.weight = e.w2.rows(i, i + 1).view({cs.H, cs.I});
        d.weight_scale = e.w2_scale.rows(i, i + 1).view({cs.H});
        e.gate.push_back(g);
        e.up.push_back(u);
        e.down.push_back(d);
      }
    }
    for (const int T : cs.tokens) {
      SCOPED_TRACE(::testing::Message() << "H " << cs.H << " I " << cs.I << " E " << cs.E << " k " << cs.k << " T "
                                        << T);
      OwnedTensor x = host_bf16({T, cs.H}), logits = host_f32({T, cs.E}, -4.0f, 4.0f);
      OwnedTensor tw = host(DType::F32, {T, cs.k}), ti = host(DType::I32, {T, cs.k});
      cpu->moe_route(logits, cs.k, true, tw, ti);
      OwnedTensor dx = to_gpu(x), dtw = to_gpu(tw), dti = to_gpu(ti);
      OwnedTensor cout = host(DType::F32, {T, cs.H});
      cpu->moe_experts(x, tw, ti, ex.host, cout);
      auto [dout, poison] = poisoned(DType::BF16, {T, cs.H});
      gpu->moe_experts(dx, dtw, dti, ex.dev, dout);
      OwnedTensor got = to_host(dout);
      const double err = rel_err(cout, got);
      EXPECT_LT(err, 1e-2);
      std::printf("moe_experts W8A8 H %d I %d E %d T %d: rel err %.2e\n", cs.H, cs.I, cs.E, T, err);
      // ops (a backend made with other switches) gives the bits `want` over the experts w.
      auto expect_bits = [&](Ops& ops, const ExpertWeights& w, const Tensor& want, const std::string& what) {
        auto [d, p] = poisoned(DType::BF16, {T, cs.H});
        ops.moe_experts(dx, dtw, dti, w, d);
        EXPECT_EQ(rows_differing(want, to_host(d)), 0) << what;
      };
      // The mma.sync fallback gives the same bits; so do the small-batch path (ROTOR_MOE_SMALL=all:
      // wherever it can run, T * k <= 64) and the tiles (=0), x quantised in its own launch
      // (ROTOR_FUSED_ALIGN=0, not in align's), the 128-row down tiles with their h resident
      // wherever K fits (ROTOR_RESIDENT_DOWN=all; by default at K >= 512) and never (=0); and
      // the last token alone.
      expect_bits(*gpu_mma, ex.dev, got, "wgmma against mma.sync");
      const std::pair<Ops*, const char*> same[] = {{gpu_tiles.get(), "ROTOR_MOE_SMALL=0"},
                                                   {gpu_small.get(), "ROTOR_MOE_SMALL=all"},
                                                   {gpu_unfused.get(), "ROTOR_FUSED_ALIGN=0"},
                                                   {gpu_blocks.get(), "ROTOR_RESIDENT_DOWN=0"},
                                                   {gpu_resident.get(), "ROTOR_RESIDENT_DOWN=all"}};
      for (const auto& [ops, what] : same) expect_bits(*ops, ex.dev, got, std::string("against ") + what);
      if (T > 1) {
        auto [one, p3] = poisoned(DType::BF16, {1, cs.H});
        gpu->moe_experts(dx.tensor.rows(T - 1, T), dtw.tensor.rows(T - 1, T), dti.tensor.rows(T - 1, T), ex.dev, one);
        EXPECT_EQ(rows_differing(got.tensor.rows(T - 1, T), to_host(one)), 0) << "a token alone";
      }
      // Expert parallelism: the second half of the experts alone (the others' ids add nothing).
      const int n = cs.E / 2;
      const ExpertWeights second = expert_slice(ex.dev, n, n);
      OwnedTensor chalf = host(DType::F32, {T, cs.H});
      cpu->moe_experts(x, tw, ti, expert_slice(ex.host, n, n), chalf);
      auto [dhalf, p4] = poisoned(DType::BF16, {T, cs.H});
      gpu->moe_experts(dx, dtw, dti, second, dhalf);
      OwnedTensor half = to_host(dhalf);
      const std::string experts = "experts [" + std::to_string(n) + ", " + std::to_string(cs.E) + ")";
      EXPECT_LT(rel_err(chalf, half), 1e-2) << experts;
      for (const auto& [ops, what] : same) expect_bits(*ops, second, half, experts + " against " + what);
    }
  }
}

// The W8A8 ops of a decode step captured in a CUDA graph (after an eager warm-up that sizes
// scratch) and replayed: the eager bits (the experts at 24 tokens on the tiles, at 4 on the
// small-batch path: a backend made with ROTOR_MOE_SMALL=all).
TEST_F(CudaW8A8Test, OpsReplayFromAGraph) {
  Ops& ops = *gpu_small;  // ROTOR_MOE_SMALL=all: the 4-token experts on the small path
  const int T = 24, H = 2048, N = 5120, I = 768, E = 128, k = 8;
  OwnedTensor x = host_bf16({T, H}), w = host_bf16({H}, 0.2f, 1.0f), wq = host_i8({N, H}), deq = host_f32({N}, 1e-4f, 1e-3f),
              qb = host_i32({N}, -1000, 1000), ws = host_f32({N}, 1e-3f, 1e-2f), logits = host_f32({T, E}, -4.0f, 4.0f);
  OwnedTensor w13 = host_i8({E, 2 * I, H}), w2 = host_i8({E, H, I}), s13 = host_f32({E, 2 * I}, 1e-4f, 3e-4f),
              s2 = host_f32({E, H}, 2e-4f, 5e-4f);
  OwnedTensor tw = host(DType::F32, {T, k}), ti = host(DType::I32, {T, k});
  cpu->moe_route(logits, k, true, tw, ti);
  OwnedTensor dx = to_gpu(x), dw = to_gpu(w), dwq = to_gpu(wq), ddeq = to_gpu(deq), dqb = to_gpu(qb), dws = to_gpu(ws),
              d13 = to_gpu(w13), d2 = to_gpu(w2), ds13 = to_gpu(s13), ds2 = to_gpu(s2), dtw = to_gpu(tw), dti = to_gpu(ti);
  LinearWeight st, dyn;
  st.kind = QuantKind::W8A8Static;
  st.weight = dyn.weight = dwq;
  st.deq_scale = ddeq;
  st.quant_bias = dqb;
  dyn.kind = QuantKind::W8A8Dynamic;
  dyn.weight_scale = dws;
  ExpertWeights ex;
  ex.num_experts = E;
  ex.hidden = H;
  ex.inter = I;
  ex.w13 = d13;
  ex.w2 = d2;
  ex.w13_scale = ds13;
  ex.w2_scale = ds2;
  struct Outs {
    OwnedTensor xq, xq2, scales, y1, y2, moe, moe_small;  // moe_small: 4 tokens (the small-batch path)
  };
  auto outs = [&] {
    return Outs{poisoned(DType::I8, {T, H}).first,   poisoned(DType::I8, {T, H}).first,
                poisoned(DType::F32, {T}).first,     poisoned(DType::BF16, {T, N}).first,
                poisoned(DType::F32, {T, N}).first,  poisoned(DType::BF16, {T, H}).first,
                poisoned(DType::BF16, {4, H}).first};
  };
  auto step = [&](const Outs& o) {
    ops.rms_norm_quant(dx, dw, Tensor{}, 1e-6f, 0.03f, 2.0f, o.xq, Tensor{});
    ops.gemm_w8a8(o.xq, Tensor{}, st, o.y1);
    ops.quant_per_token(dx, o.xq2, o.scales);
    ops.gemm_w8a8(o.xq2, o.scales, dyn, o.y2);
    ops.moe_experts(dx, dtw, dti, ex, o.moe);
    ops.moe_experts(dx.tensor.rows(0, 4), dtw.tensor.rows(0, 4), dti.tensor.rows(0, 4), ex, o.moe_small);
  };
  const Outs eager = outs(), replay = outs();
  step(eager);
  ops.synchronize();
  CudaGraph::capture(ops, [&] { step(replay); })->replay();
  ops.synchronize();
  for (const auto& [a, b] : {std::pair{&eager.xq, &replay.xq}, {&eager.y1, &replay.y1}, {&eager.scales, &replay.scales},
                             {&eager.y2, &replay.y2}, {&eager.moe, &replay.moe}, {&eager.moe_small, &replay.moe_small}}) {
    const OwnedTensor ha = to_host(a->tensor), hb = to_host(b->tensor);
    EXPECT_EQ(std::memcmp(ha.tensor.data(), hb.tensor.data(), ha.tensor.nbytes()), 0) << a->tensor.str();
  }
}

}  // namespace
}  // namespace rotor
