// bench/kernels_w8a8.cpp — rotor_bench_kernels' W8A8 rows. Weights are int8 bytes from the
// device hash (fill_random over a bf16 view of them) in enough copies to miss L2; the mma.sync
// fallback rows come from a second backend made with ROTOR_W8A8_WGMMA=0, the experts' tiled rows
// at batches 1 to 8 from backends made with ROTOR_MOE_SMALL=all and =0.
#include "bench/kernels_w8a8.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>
#include <set>
#include <string>

#include "kernels/cuda/cuda_ops.h"

namespace rotor {
namespace {

std::string dims(int64_t a, int64_t b, int64_t c) {
  return std::to_string(a) + "x" + std::to_string(b) + "x" + std::to_string(c);
}

struct Maker {
  Ops& ops;
  uint64_t seed = 101;
  // Hashed bytes (any int8 value): the numbers do not matter for timing.
  OwnedTensor i8(Shape s) {
    OwnedTensor t(ops.allocator(), DType::I8, s);
    ops.fill_random(Tensor(t.tensor.data(), DType::BF16, {t.tensor.numel() / 2}, t.tensor.device()), seed++, 0.0f,
                    1.0f);
    return t;
  }
  OwnedTensor f32(Shape s, float mean, float std) {
    OwnedTensor t(ops.allocator(), DType::F32, s);
    ops.fill_random(t, seed++, mean, std);
    return t;
  }
  OwnedTensor bf16(Shape s, float mean = 0.0f, float std = 1.0f) {
    OwnedTensor t(ops.allocator(), DType::BF16, s);
    ops.fill_random(t, seed++, mean, std);
    return t;
  }
};

// A W8A8Static linear layer [N, K] (what the attention projections are).
struct StaticLinear {
  OwnedTensor w, deq, qb;
  LinearWeight l;
  StaticLinear(Maker& mk, int64_t N, int64_t K) : w(mk.i8({N, K})), deq(mk.f32({N}, 1e-3f, 1e-4f)), qb(mk.f32({N}, 0, 1)) {
    l.kind = QuantKind::W8A8Static;
    l.weight = w;
    l.deq_scale = deq;
    l.quant_bias = Tensor(qb.tensor.data(), DType::I32, {N}, qb.tensor.device());
  }
};

}  // namespace


void w8a8_kernel_rows(Ops& ops, Timer& timer, KernelTable& table, const ModelConfig& c, int batch,
                      int prefill_tokens) {
  Maker mk{ops};
  std::unique_ptr<Ops> mma = make_cuda_ops_with_env({{"ROTOR_W8A8_WGMMA", "0"}});  // the mma.sync fallback for many rows
  std::unique_ptr<Ops> tiles = make_cuda_ops_with_env({{"ROTOR_MOE_SMALL", "0"}});  // the experts' small path off
  std::unique_ptr<Ops> small = make_cuda_ops_with_env({{"ROTOR_MOE_SMALL", "all"}});  // wherever it can run
  const int64_t H = c.hidden_size, Q = int64_t{c.num_heads} * c.head_dim, E = c.num_experts,
                k = c.num_experts_per_tok, I = c.moe_intermediate_size;
  const int64_t B = batch, P = 16384;

  // Activation quantisation: the norm before q/k/v, o_proj's input, the experts' input.
  for (const int64_t T : {B, P}) {
    OwnedTensor x = mk.bf16({T, std::max(H, Q)}), res = mk.bf16({T, H}), w = mk.bf16({H}, 1.0f, 0.1f);
    OwnedTensor q(ops.allocator(), DType::I8, {T, std::max(H, Q)}), s(ops.allocator(), DType::F32, {T});
    const Tensor xh = x.tensor.narrow(1, 0, H), qh = q.tensor.narrow(1, 0, H);
    double ms = timer.median_ms([&](int) { ops.rms_norm_quant(xh, w, Tensor{}, 1e-6f, 0.03f, 1.0f, qh, res); });
    table.add("w8a8 rms_norm_quant+res", std::to_string(T) + "x" + std::to_string(H), ms, 7.0 * T * H, 0);
    const Tensor xq = x.tensor.narrow(1, 0, Q), qq = q.tensor.narrow(1, 0, Q);
    ms = timer.median_ms([&](int) { ops.quant_static(xq, 0.03f, 1.0f, qq); });
    table.add("w8a8 quant_static", std::to_string(T) + "x" + std::to_string(Q), ms, 3.0 * T * Q, 0);
    ms = timer.median_ms([&](int) { ops.quant_per_token(xh, qh, s); });
    table.add("w8a8 quant_per_token", std::to_string(T) + "x" + std::to_string(H), ms, 3.0 * T * H + 4.0 * T, 0);
  }

  // Dense GEMMs: q_proj and o_proj of this config, and N = K = 8192.
  struct Proj {
    const char* name;
    int64_t N, K;
  };
  for (const Proj& p : {Proj{"w8a8 gemm q_proj", Q, H}, Proj{"w8a8 gemm o_proj", H, Q}, Proj{"w8a8 gemm 8192", 8192, 8192}}) {
    const double wbytes = double(p.N) * p.K;
    const int copies = std::max(1, static_cast<int>(std::ceil(512e6 / wbytes)));
    std::vector<StaticLinear> ws;
    ws.reserve(copies);
    for (int i = 0; i < copies; ++i) ws.emplace_back(mk, p.N, p.K);
    for (const int64_t M : {int64_t{1}, int64_t{8}, B}) {
      OwnedTensor x = mk.i8({M, p.K});
      OwnedTensor out(ops.allocator(), DType::BF16, {M, p.N});
      const double ms = timer.median_ms([&](int i) { ops.gemm_w8a8(x, Tensor{}, ws[i % copies].l, out); });
      table.add(p.name, dims(M, p.N, p.K), ms, wbytes + double(M) * p.K + double(M) * p.N * 2, 2.0 * M * p.N * p.K);
    }
    for (const int64_t M : {int64_t{2048}, P}) {
      OwnedTensor x = mk.i8({M, p.K});
      OwnedTensor out(ops.allocator(), DType::BF16, {M, p.N});
      for (Ops* o : {&ops, mma.get()}) {
        const double ms = timer.median_ms([&](int i) { o->gemm_w8a8(x, Tensor{}, ws[i % copies].l, out); }, 5, 1);
        table.add(std::string(p.name) + (o == &ops ? " (wgmma)" : " (mma)"), dims(M, p.N, p.K), ms,
                  wbytes + double(M) * p.K + double(M) * p.N * 2, 2.0 * M * p.N * p.K);
      }
    }
  }

  // Experts: stacked int8 weights of enough layers to miss L2; routing uniform over experts.
  const double layer_bytes = double(E) * 3 * H * I;
  const int layers = std::max(1, static_cast<int>(std::ceil(3e9 / layer_bytes)));
  std::vector<OwnedTensor> store;
  std::vector<ExpertWeights> ex(layers);
  for (int l = 0; l < layers; ++l) {
    ExpertWeights& e = ex[l];
    e.num_experts = static_cast<int>(E);
    e.hidden = static_cast<int>(H);
    e.inter = static_cast<int>(I);
    store.push_back(mk.i8({E, 2 * I, H}));
    e.w13 = store.back();
    store.push_back(mk.i8({E, H, I}));
    e.w2 = store.back();
    store.push_back(mk.f32({E, 2 * I}, 1e-4f, 1e-5f));
    e.w13_scale = store.back();
    store.push_back(mk.f32({E, H}, 1e-4f, 1e-5f));
    e.w2_scale = store.back();
  }
  std::mt19937_64 g(7);
  // Batches 1, 2, 4, 8 on the small-batch path and on the tiles (issue 21), the decode batch,
  // prefill sizes on wgmma and on the mma.sync fallback.
  for (const int64_t T : {int64_t{1}, int64_t{2}, int64_t{4}, int64_t{8}, B, int64_t{std::max(1, prefill_tokens / 2)}, P}) {
    std::vector<int32_t> ids(static_cast<size_t>(T) * k);
    std::set<int32_t> touched;
    std::vector<int32_t> all(E);
    for (int64_t t = 0; t < T; ++t) {
      std::iota(all.begin(), all.end(), 0);
      std::shuffle(all.begin(), all.end(), g);
      for (int64_t j = 0; j < k; ++j) touched.insert(ids[t * k + j] = all[j]);
    }
    std::vector<float> wts(ids.size(), 1.0f / k);
    OwnedTensor dids(ops.allocator(), DType::I32, {T, k}), dw(ops.allocator(), DType::F32, {T, k});
    ops.allocator().copy(dids.tensor.data(), ids.data(), ids.size() * 4);
    ops.allocator().copy(dw.tensor.data(), wts.data(), wts.size() * 4);
    OwnedTensor x = mk.bf16({T, H}), out(ops.allocator(), DType::BF16, {T, H});
    const std::string shape = std::to_string(T) + " tokens, " + std::to_string(touched.size()) + " experts";
    std::vector<std::pair<Ops*, const char*>> runs;
    if (T <= 8)
      runs = {{small.get(), "w8a8 moe_experts (small)"}, {tiles.get(), "w8a8 moe_experts (tiles)"}};
    else if (T == B)
      runs = {{&ops, "w8a8 moe_experts"}};  // decode tiles are mma.sync either way
    else
      runs = {{&ops, "w8a8 moe_experts"}, {mma.get(), "w8a8 moe_experts (mma)"}};
    const bool decode = T <= B;
    for (const auto& [o, name] : runs) {
      const double ms = timer.median_ms([&](int i) { o->moe_experts(x, dw, dids, ex[i % layers], out); }, decode ? 10 : 5,
                                        decode ? 3 : 1);
      table.add(name, shape, ms, double(touched.size()) * 3 * H * I, 2.0 * 3 * T * k * H * I);
    }
  }
}

}  // namespace rotor
