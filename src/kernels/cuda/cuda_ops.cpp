// kernels/cuda/cuda_ops.cpp — CudaOps: the Ops interface on one GPU in bf16 (and int8 for
// W8A8 weights). Checks every argument on the host (one-line errors), then calls the kernel
// launchers (<op>.cuh) on the GPU's stream. Scratch memory is one grow-only buffer, sized up
// front by reserve() so that no step allocates (and none may while a CUDA graph is being
// captured). ROTOR_W8A8_WGMMA=0 in the environment (read when a backend is made) runs the
// W8A8 GEMMs of many rows on mma.sync instead of Hopper warpgroup MMA (the same results).
#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/check.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/copy_tokens.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/embed.cuh"
#include "kernels/cuda/fill_random.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/gemm_w8a8.cuh"
#include "kernels/cuda/logprobs.cuh"
#include "kernels/cuda/mask_tokens.cuh"
#include "kernels/cuda/token_bitmask.cuh"
#include "kernels/cuda/moe.cuh"
#include "kernels/cuda/moe_route.cuh"
#include "kernels/cuda/moe_w8a8.cuh"
#include "kernels/cuda/penalties.cuh"
#include "kernels/cuda/qk_norm_rope.cuh"
#include "kernels/cuda/quantize.cuh"
#include "kernels/cuda/rms_norm.cuh"
#include "kernels/cuda/sample.cuh"

namespace rotor {
namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) [[unlikely]] {
    cudaGetLastError();
    ROTOR_FAIL("CUDA {}: {}", what, cudaGetErrorString(err));
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }
bool aligned8(const void* p) { return reinterpret_cast<uintptr_t>(p) % 8 == 0; }

// int8 rows [T, K] for a quantised activation: K and the row stride multiples of 8 bytes.
void expect_i8_rows(const Tensor& t, int64_t T, int64_t K, const char* op, const char* name) {
  ROTOR_CHECK(t.dtype() == DType::I8 && t.ndim() == 2 && t.size(0) == T && t.size(1) == K && t.stride(1) == 1 &&
                  t.stride(0) % 8 == 0 && K % 8 == 0 && aligned8(t.data()),
              "{}: {} must be i8 [{}, {}] with 8-byte aligned rows (got {})", op, name, T, K, t.str());
}

void expect_f32_vector(const Tensor& t, int64_t n, const char* op, const char* name) {
  ROTOR_CHECK(t.dtype() == DType::F32 && t.numel() == n && t.is_contiguous(), "{}: {} must be f32 [{}] (got {})", op,
              name, n, t.str());
}

void expect_scale(float scale, const char* op) {
  ROTOR_CHECK(scale > 0.0f && std::isfinite(scale), "{}: scale {} is not a positive number", op, scale);
}

// |x_q| <= 128 and |W| <= 127: a K-long i32 sum cannot overflow while K * 128 * 127 < 2^31.
constexpr int64_t kMaxW8A8K = (int64_t{1} << 31) / (128 * 127);

void expect_bf16_rows(const Tensor& t, const char* op, const char* name) {
  ROTOR_CHECK(t.dtype() == DType::BF16 && t.ndim() >= 2 && t.stride(-1) == 1 && t.stride(0) % 8 == 0 &&
                  aligned16(t.data()),
              "{}: {} must be bf16 rows, 16-byte aligned (got {})", op, name, t.str());
}

void expect_device(const Tensor& t, const Device& d, const char* op, const char* name) {
  ROTOR_CHECK(!t.defined() || t.device() == d, "{}: {} is on {}, the backend on {}", op, name, t.device().str(),
              d.str());
}

// An event on the GPU's stream; wait() spins like a stream synchronisation does.
class CudaEvent final : public DeviceEvent {
 public:
  CudaEvent(int device, cudaStream_t stream) : stream_(stream) {
    check(cudaSetDevice(device), "set device");
    check(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), "create event");
  }
  ~CudaEvent() override { cudaEventDestroy(event_); }
  void record() override { check(cudaEventRecord(event_, stream_), "record event"); }
  void wait() override { check(cudaEventSynchronize(event_), "wait for event"); }

 private:
  cudaStream_t stream_;
  cudaEvent_t event_ = nullptr;
};

class CudaOps final : public Ops {
 public:
  CudaOps(int device, int lane) : dev_(device), lane_(lane) {
    const char* wg = std::getenv("ROTOR_W8A8_WGMMA");
    w8a8_wgmma_ = wg == nullptr || std::strcmp(wg, "0") != 0;
    check(cudaSetDevice(dev_), "set device");
    stream_ = cuda_stream(dev_, lane_);
    check(cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount, dev_), "device attribute");
    ROTOR_CHECK(cublasCreate(&cublas_) == CUBLAS_STATUS_SUCCESS, "cuBLAS: cannot create a handle");
    ROTOR_CHECK(cublasSetStream(cublas_, stream_) == CUBLAS_STATUS_SUCCESS, "cuBLAS: cannot set the stream");
    cublas_ws_ = Buffer(allocator(), kCublasWorkspace);
    ROTOR_CHECK(cublasSetWorkspace(cublas_, cublas_ws_.data(), kCublasWorkspace) == CUBLAS_STATUS_SUCCESS,
                "cuBLAS: cannot set the workspace");
  }
  ~CudaOps() override {
    cudaStreamSynchronize(stream_);
    cublasDestroy(cublas_);
  }

  Device device() const override { return {DeviceType::CUDA, dev_}; }
  DType act_dtype() const override { return DType::BF16; }
  Allocator& allocator() override { return cuda_allocator(dev_, lane_); }
  Allocator& host_allocator() override { return cuda_host_allocator(dev_, lane_); }
  void make_current() override { check(cudaSetDevice(dev_), "set device"); }
  void synchronize() override { check(cudaStreamSynchronize(stream_), "synchronize"); }
  void copy_async(void* dst, const void* src, size_t bytes) override {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_), "copy");
  }
  std::unique_ptr<DeviceEvent> make_event() override { return std::make_unique<CudaEvent>(dev_, stream_); }
  int max_top_logprobs() const override { return cuda::kMaxTopLogprobs; }
  bool memory_info(size_t* free_bytes, size_t* total_bytes) override {
    check(cudaMemGetInfo(free_bytes, total_bytes), "memory info");
    return true;
  }
  void reserve(const OpLimits& l) override {
    size_t need = 0;
    if (l.max_tokens > 0 && l.num_experts > 0) {  // bf16 or W8A8 experts: whichever needs more
      need = std::max(need, cuda::moe_workspace(l.max_tokens, l.hidden, l.moe_inter, l.num_experts, l.top_k));
      need = std::max(need, cuda::moe_w8a8_workspace(l.max_tokens, l.hidden, l.moe_inter, l.num_experts, l.top_k));
    }
    if (l.max_seqs > 0 && l.max_model_len > 0)
      need = std::max(need, cuda::attention_decode_workspace(l.max_seqs, l.q_heads, l.max_model_len));
    need = std::max(need, static_cast<size_t>(l.max_seqs) * l.vocab * sizeof(float));  // sampling, penalties
    workspace(need);
  }
  cudaStream_t stream() const { return stream_; }

  void embed(const Tensor& ids, const Tensor& table, const Tensor& out) override {
    const Device d = device();
    expect_device(ids, d, "embed", "ids");
    expect_device(table, d, "embed", "table");
    expect_device(out, d, "embed", "out");
    const int64_t T = ids.numel(), H = table.size(1);
    ROTOR_CHECK(ids.dtype() == DType::I32 && ids.is_contiguous() && table.dtype() == out.dtype() &&
                    table.stride(0) == H && table.stride(1) == 1 && out.size(0) == T && out.size(1) == H &&
                    out.stride(0) == H && out.stride(1) == 1 && (H * dtype_size(table.dtype())) % 16 == 0 &&
                    aligned16(table.data()) && aligned16(out.data()),
                "embed: bad shapes ids {} table {} out {}", ids.str(), table.str(), out.str());
    check(cuda::embed(ids.data<int32_t>(), T, table.data(), table.size(0),
                      H * static_cast<int64_t>(dtype_size(table.dtype())), out.data(), stream_),
          "embed");
  }

  void embed_shard(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) override {
    const Device d = device();
    expect_device(ids, d, "embed_shard", "ids");
    expect_device(table, d, "embed_shard", "table");
    expect_device(out, d, "embed_shard", "out");
    const int64_t T = ids.numel(), H = table.size(1);
    ROTOR_CHECK(ids.dtype() == DType::I32 && ids.is_contiguous() && table.dtype() == out.dtype() &&
                    table.stride(0) == H && table.stride(1) == 1 && out.size(0) == T && out.size(1) == H &&
                    out.stride(0) == H && out.stride(1) == 1 && (H * dtype_size(table.dtype())) % 16 == 0 &&
                    aligned16(table.data()) && aligned16(out.data()) && first >= 0,
                "embed_shard: bad shapes ids {} table {} (first {}) out {}", ids.str(), table.str(), first, out.str());
    check(cuda::embed_shard(ids.data<int32_t>(), T, table.data(), table.size(0), first,
                            H * static_cast<int64_t>(dtype_size(table.dtype())), out.data(), stream_),
          "embed_shard");
  }

  void rms_norm(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
                const Tensor& residual) override {
    const int64_t T = x.size(0), H = x.size(1);
    expect_bf16_rows(x, "rms_norm", "x");
    expect_bf16_rows(out, "rms_norm", "out");
    if (residual.defined()) expect_bf16_rows(residual, "rms_norm", "residual");
    ROTOR_CHECK(w.dtype() == DType::BF16 && w.numel() == H && aligned16(w.data()) && out.size(0) == T &&
                    out.size(1) == H && (!residual.defined() || (residual.size(0) == T && residual.size(1) == H)) &&
                    (!bias.defined() || (bias.dtype() == DType::BF16 && bias.numel() == H && aligned16(bias.data()))),
                "rms_norm: bad shapes x {} w {} bias {} out {} residual {}", x.str(), w.str(), bias.str(), out.str(),
                residual.str());
    check(cuda::rms_norm(x.data(), x.stride(0), w.data(), bias.defined() ? bias.data() : nullptr, eps, out.data(),
                         out.stride(0), residual.defined() ? residual.data() : nullptr,
                         residual.defined() ? residual.stride(0) : 0, T, H, stream_),
          "rms_norm");
  }

  void qk_norm_rope(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                    const Tensor& rope_cos_sin, const AttentionBatch& b, const LayerKVCache& cache,
                    const Tensor& q_out) override {
    const int64_t T = b.num_tokens, Hq = q_out.size(1), hd = q_out.size(2), Hkv = cache.k.size(1);
    ROTOR_CHECK(qkv.dtype() == DType::BF16 && qkv.size(0) == T && qkv.size(1) == (Hq + 2 * Hkv) * hd &&
                    qkv.stride(1) == 1 && q_out.dtype() == DType::BF16 && q_out.stride(2) == 1 &&
                    q_out.stride(1) == hd && (cache.k.dtype() == DType::BF16 || cache.fp8()) &&
                    cache.v.dtype() == cache.k.dtype() && cache.k.size(3) == hd && cache.k.is_contiguous() &&
                    cache.v.is_contiguous() && rope_cos_sin.dtype() == DType::F32 && rope_cos_sin.size(1) == hd &&
                    q_norm_w.dtype() == DType::BF16 && k_norm_w.dtype() == DType::BF16 && hd % 64 == 0 &&
                    hd <= 256,
                "qk_norm_rope: bad shapes qkv {} q_out {} k_cache {} rope {}", qkv.str(), q_out.str(),
                cache.k.str(), rope_cos_sin.str());
    ROTOR_CHECK(!cache.fp8() || (cache.scales.dtype() == DType::F32 && cache.scales.numel() == 2 &&
                                 cache.scales.device() == device()),
                "qk_norm_rope: an e4m3 cache needs its [2] f32 scales on the GPU (got {})", cache.scales.str());
    cuda::QkNormRopeArgs a{};
    a.qkv = qkv.data();
    a.qkv_stride = qkv.stride(0);
    a.q_norm_w = q_norm_w.data();
    a.k_norm_w = k_norm_w.data();
    a.eps = eps;
    a.rope = rope_cos_sin.data<float>();
    a.max_pos = static_cast<int>(rope_cos_sin.size(0));
    a.positions = b.positions.data<int32_t>();
    a.slots = b.slot_mapping.data<int32_t>();
    a.k_cache = cache.k.data();
    a.v_cache = cache.v.data();
    a.kv_scales = cache.fp8() ? cache.scales.data<float>() : nullptr;
    a.calculate_scales = cache.fp8() && cache.calculate_scales;
    a.num_slots = cache.k.size(0) * cache.k.size(2);
    a.block_size = static_cast<int>(cache.k.size(2));
    a.q_out = q_out.data();
    a.q_stride = q_out.stride(0);
    a.T = static_cast<int>(T);
    a.Hq = static_cast<int>(Hq);
    a.Hkv = static_cast<int>(Hkv);
    a.hd = static_cast<int>(hd);
    check(cuda::qk_norm_rope(a, stream_), "qk_norm_rope");
  }

  void attention_decode(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& b, float scale,
                        const Tensor& out) override {
    const cuda::AttnArgs a = attn_args(q, cache, b, scale, out, 0, b.num_decode_seqs, "attention_decode");
    void* ws = workspace(cuda::attention_decode_workspace(b.num_decode_seqs, a.Hq, a.max_seq_len));
    check(cuda::attention_decode(a, ws, stream_), "attention_decode");
  }

  void attention_prefill(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& b, float scale,
                         const Tensor& out) override {
    const cuda::AttnArgs a = attn_args(q, cache, b, scale, out, b.num_decode_seqs, b.num_seqs, "attention_prefill");
    check(cuda::attention_prefill(a, stream_), "attention_prefill");
  }

  void gemm(const Tensor& x, const LinearWeight& w, const Tensor& out) override {
    ROTOR_CHECK(!w.quantized(), "gemm: the weight {} is quantized (W8A8 layers go through gemm_w8a8)",
                w.weight.str());
    const int64_t M = x.size(0), K = x.size(1), N = w.out_features();
    expect_bf16_rows(x, "gemm", "x");
    ROTOR_CHECK(w.weight.dtype() == DType::BF16 && w.weight.is_contiguous() && w.in_features() == K &&
                    aligned16(w.weight.data()) && out.size(0) == M && out.size(1) == N && out.stride(1) == 1 &&
                    (out.dtype() == DType::BF16 || out.dtype() == DType::F32) && K % 8 == 0 &&
                    (!w.bias.defined() ||
                     ((w.bias.dtype() == DType::F32 || w.bias.dtype() == DType::BF16) && w.bias.numel() == N)),
                "gemm: x {} weight {} out {} do not fit", x.str(), w.weight.str(), out.str());
    cuda::DenseGemm g{};
    g.x = x.data();
    g.ldx = x.stride(0);
    g.w = w.weight.data();
    g.bias = w.bias.defined() ? w.bias.data() : nullptr;
    g.bias_f32 = w.bias.defined() && w.bias.dtype() == DType::F32;
    g.out = out.data();
    g.ldo = out.stride(0);
    g.out_f32 = out.dtype() == DType::F32;
    g.M = static_cast<int>(M);
    g.N = static_cast<int>(N);
    g.K = static_cast<int>(K);
    if (M <= cuda::kSmallGemmRows) {
      check(cuda::small_gemm(g, num_sms_, stream_), "gemm");
    } else {
      check(cuda::cublas_gemm(g, cublas_, stream_), "gemm (cuBLAS)");
    }
  }

  void quant_static(const Tensor& x, float scale, float offset, const Tensor& out) override {
    const int64_t T = x.size(0), K = x.size(1);
    expect_bf16_rows(x, "quant_static", "x");
    expect_i8_rows(out, T, K, "quant_static", "out");
    expect_scale(scale, "quant_static");
    ROTOR_CHECK(std::isfinite(offset), "quant_static: offset {} is not finite", offset);
    check(cuda::quant_static(x.data(), x.stride(0), scale, offset, out.data<int8_t>(), out.stride(0), T, K, stream_),
          "quant_static");
  }

  void quant_per_token(const Tensor& x, const Tensor& out, const Tensor& scales) override {
    const int64_t T = x.size(0), K = x.size(1);
    expect_bf16_rows(x, "quant_per_token", "x");
    expect_i8_rows(out, T, K, "quant_per_token", "out");
    expect_f32_vector(scales, T, "quant_per_token", "scales");
    check(cuda::quant_per_token(x.data(), x.stride(0), out.data<int8_t>(), out.stride(0), scales.data<float>(), T, K,
                                stream_),
          "quant_per_token");
  }

  void rms_norm_quant(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale, float offset,
                      const Tensor& out, const Tensor& residual) override {
    const int64_t T = x.size(0), H = x.size(1);
    expect_bf16_rows(x, "rms_norm_quant", "x");
    expect_i8_rows(out, T, H, "rms_norm_quant", "out");
    if (residual.defined()) expect_bf16_rows(residual, "rms_norm_quant", "residual");
    expect_scale(scale, "rms_norm_quant");
    ROTOR_CHECK(std::isfinite(offset), "rms_norm_quant: offset {} is not finite", offset);
    ROTOR_CHECK(w.dtype() == DType::BF16 && w.numel() == H && aligned16(w.data()) &&
                    (!residual.defined() || (residual.size(0) == T && residual.size(1) == H)) &&
                    (!bias.defined() || (bias.dtype() == DType::BF16 && bias.numel() == H && aligned16(bias.data()))),
                "rms_norm_quant: bad shapes x {} w {} bias {} out {} residual {}", x.str(), w.str(), bias.str(),
                out.str(), residual.str());
    check(cuda::rms_norm_quant(x.data(), x.stride(0), w.data(), bias.defined() ? bias.data() : nullptr, eps, scale,
                               offset, out.data<int8_t>(), out.stride(0), residual.defined() ? residual.data() : nullptr,
                               residual.defined() ? residual.stride(0) : 0, T, H, stream_),
          "rms_norm_quant");
  }

  void gemm_w8a8(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) override {
    const int64_t M = x_q.size(0), K = x_q.size(1), N = w.out_features();
    const Device d = device();
    for (const Tensor* t : {&x_q, &x_scales, &w.weight, &w.deq_scale, &w.quant_bias, &w.weight_scale, &out})
      expect_device(*t, d, "gemm_w8a8", "an argument");
    ROTOR_CHECK(w.quantized(), "gemm_w8a8: the weight {} is not quantized (use gemm)", w.weight.str());
    ROTOR_CHECK(x_q.dtype() == DType::I8 && x_q.ndim() == 2 && x_q.is_contiguous() && aligned16(x_q.data()) &&
                    K % 16 == 0 && K < kMaxW8A8K && w.weight.dtype() == DType::I8 && w.weight.is_contiguous() &&
                    aligned16(w.weight.data()) && w.in_features() == K && out.ndim() == 2 && out.size(0) == M &&
                    out.size(1) == N && out.stride(1) == 1 &&
                    (out.dtype() == DType::BF16 || out.dtype() == DType::F32) && M < (int64_t{1} << 31) &&
                    N < (int64_t{1} << 31),
                "gemm_w8a8: x_q {} weight {} out {} do not fit (i8 rows, K a multiple of 16 below {})", x_q.str(),
                w.weight.str(), out.str(), kMaxW8A8K);
    cuda::W8A8Gemm g{};
    g.x = x_q.data<int8_t>();
    g.w = w.weight.data<int8_t>();
    g.M = static_cast<int>(M);
    g.N = static_cast<int>(N);
    g.K = static_cast<int>(K);
    cuda::W8A8Out& o = g.out;
    o.out = out.data();
    o.ldo = out.stride(0);
    o.out_f32 = out.dtype() == DType::F32;
    const size_t esize = o.out_f32 ? 4 : 2;
    o.pairs = o.ldo % 2 == 0 && reinterpret_cast<uintptr_t>(out.data()) % (2 * esize) == 0;
    o.M = g.M;
    o.N = g.N;
    o.dynamic = w.kind == QuantKind::W8A8Dynamic;
    if (o.dynamic) {
      expect_f32_vector(w.weight_scale, N, "gemm_w8a8", "weight_scale");
      ROTOR_CHECK(x_scales.defined(), "gemm_w8a8: a W8A8Dynamic weight needs the per-token scales");
      expect_f32_vector(x_scales, M, "gemm_w8a8", "x_scales");
      o.weight_scale = w.weight_scale.data<float>();
      o.x_scales = x_scales.data<float>();
    } else {
      expect_f32_vector(w.deq_scale, N, "gemm_w8a8", "deq_scale");
      ROTOR_CHECK(!w.quant_bias.defined() ||
                      (w.quant_bias.dtype() == DType::I32 && w.quant_bias.numel() == N && w.quant_bias.is_contiguous()),
                  "gemm_w8a8: quant_bias {} must be i32 [{}]", w.quant_bias.str(), N);
      o.deq_scale = w.deq_scale.data<float>();
      o.quant_bias = w.quant_bias.defined() ? w.quant_bias.data<int32_t>() : nullptr;
    }
    check(cuda::gemm_w8a8(g, w8a8_wgmma_, num_sms_, stream_), "gemm_w8a8");
  }

  void moe_route(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
                 const Tensor& topk_ids) override {
    const int64_t T = logits.size(0), E = logits.size(1);
    ROTOR_CHECK(logits.dtype() == DType::F32 && logits.stride(1) == 1 && top_k > 0 && top_k <= E && E <= 512 &&
                    topk_weights.dtype() == DType::F32 && topk_ids.dtype() == DType::I32 &&
                    topk_weights.size(0) == T && topk_weights.size(1) == top_k && topk_ids.size(0) == T &&
                    topk_ids.size(1) == top_k && topk_weights.is_contiguous() && topk_ids.is_contiguous(),
                "moe_route: bad shapes logits {} k {} weights {} ids {}", logits.str(), top_k, topk_weights.str(),
                topk_ids.str());
    check(cuda::moe_route(logits.data<float>(), logits.stride(0), static_cast<int>(T), static_cast<int>(E), top_k,
                          renormalize, topk_weights.data<float>(), topk_ids.data<int32_t>(), stream_),
          "moe_route");
  }

  void moe_experts(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids, const ExpertWeights& ex,
                   const Tensor& out) override {
    const int64_t T = x.size(0), H = x.size(1), K = topk_ids.size(1);
    ROTOR_CHECK(ex.w13.defined() && ex.w2.defined(),
                "moe_experts: the GPU backend needs stacked expert weights (ExpertWeights::w13, w2)");
    expect_bf16_rows(x, "moe_experts", "x");
    expect_bf16_rows(out, "moe_experts", "out");
    const bool int8 = ex.w13.dtype() == DType::I8;
    const DType wdt = int8 ? DType::I8 : DType::BF16;
    ROTOR_CHECK(H == ex.hidden && out.size(0) == T && out.size(1) == H && topk_ids.dtype() == DType::I32 &&
                    topk_weights.dtype() == DType::F32 && topk_ids.is_contiguous() && topk_weights.is_contiguous() &&
                    topk_weights.size(0) == T && topk_ids.size(0) == T && topk_weights.size(1) == K &&
                    ex.w13.dtype() == wdt && ex.w2.dtype() == wdt && ex.w13.is_contiguous() && ex.w2.is_contiguous() &&
                    ex.w13.numel() == int64_t{2} * ex.num_experts * ex.inter * H &&
                    ex.w2.numel() == int64_t{1} * ex.num_experts * H * ex.inter && aligned16(ex.w13.data()) &&
                    aligned16(ex.w2.data()) && H % (int8 ? 16 : 8) == 0 && ex.inter % (int8 ? 16 : 8) == 0,
                "moe_experts: bad shapes x {} ids {} out {} w13 {} w2 {} (H and I multiples of {})", x.str(),
                topk_ids.str(), out.str(), ex.w13.str(), ex.w2.str(), int8 ? 16 : 8);
    if (int8) return moe_experts_w8a8(x, topk_weights, topk_ids, ex, out);
    cuda::MoeArgs a{};
    a.x = x.data();
    a.ldx = x.stride(0);
    a.topk_weights = topk_weights.data<float>();
    a.topk_ids = topk_ids.data<int32_t>();
    a.w13 = ex.w13.data();
    a.w2 = ex.w2.data();
    a.out = out.data();
    a.ldo = out.stride(0);
    a.T = static_cast<int>(T);
    a.H = static_cast<int>(H);
    a.I = ex.inter;
    a.E = ex.num_experts;
    a.topk = static_cast<int>(K);
    a.first = ex.first_expert;
    void* ws = workspace(cuda::moe_workspace(a.T, a.H, a.I, a.E, a.topk));
    check(cuda::moe_experts(a, ws, stream_), "moe_experts");
  }

  void fill_random(const Tensor& t, uint64_t seed, float mean, float std) override {
    ROTOR_CHECK(t.is_contiguous() && (t.dtype() == DType::BF16 || t.dtype() == DType::F32 ||
                                      t.dtype() == DType::F8E4M3),
                "fill_random: {} must be contiguous bf16, f32 or e4m3", t.str());
    check(cuda::fill_random(t.data(), t.dtype(), t.numel(), seed, mean, std, stream_), "fill_random");
  }

  void sample(const Tensor& logits, const SamplingBatch& p, const Tensor& out_ids) override {
    const int64_t S = logits.size(0);
    ROTOR_CHECK(logits.dtype() == DType::F32 && logits.stride(1) == 1 && out_ids.numel() == S &&
                    out_ids.dtype() == DType::I32 && p.temperature.numel() == S && p.top_k.numel() == S &&
                    p.top_p.numel() == S && p.min_p.numel() == S && p.seed.numel() == S && p.counter.numel() == S,
                "sample: bad shapes logits {} out {}", logits.str(), out_ids.str());
    cuda::SampleArgs a{};
    a.logits = logits.data<float>();
    a.ld = logits.stride(0);
    a.S = static_cast<int>(S);
    a.V = static_cast<int>(logits.size(1));
    a.temperature = p.temperature.data<float>();
    a.top_k = p.top_k.data<int32_t>();
    a.top_p = p.top_p.data<float>();
    a.min_p = p.min_p.data<float>();
    a.seed = p.seed.data<int64_t>();
    a.counter = p.counter.data<int64_t>();
    a.out = out_ids.data<int32_t>();
    a.probs = static_cast<float*>(workspace(static_cast<size_t>(S) * a.V * sizeof(float)));
    check(cuda::sample(a, stream_), "sample");
  }

  void apply_penalties(const Tensor& logits, const PenaltyBatch& p) override {
    const int64_t S = logits.size(0), V = logits.size(1);
    const Device d = device();
    for (const Tensor* t : {&logits, &p.repetition, &p.presence, &p.frequency, &p.prompt_tokens, &p.prompt_start,
                            &p.output_tokens, &p.output_start})
      expect_device(*t, d, "apply_penalties", "an argument");
    ROTOR_CHECK(logits.dtype() == DType::F32 && logits.stride(1) == 1 && p.repetition.numel() == S &&
                    p.presence.numel() == S && p.frequency.numel() == S && p.prompt_start.numel() == S + 1 &&
                    p.output_start.numel() == S + 1 && p.repetition.dtype() == DType::F32 &&
                    p.presence.dtype() == DType::F32 && p.frequency.dtype() == DType::F32 &&
                    p.prompt_start.dtype() == DType::I32 && p.output_start.dtype() == DType::I32 &&
                    (p.prompt_tokens.numel() == 0 || p.prompt_tokens.dtype() == DType::I32) &&
                    (p.output_tokens.numel() == 0 || p.output_tokens.dtype() == DType::I32),
                "apply_penalties: logits {} and {} rows of penalties do not fit", logits.str(), p.repetition.numel());
    cuda::PenaltyArgs a{};
    a.logits = logits.data<float>();
    a.ld = logits.stride(0);
    a.S = static_cast<int>(S);
    a.V = static_cast<int>(V);
    a.repetition = p.repetition.data<float>();
    a.presence = p.presence.data<float>();
    a.frequency = p.frequency.data<float>();
    a.prompt_tokens = p.prompt_tokens.numel() ? p.prompt_tokens.data<int32_t>() : nullptr;
    a.prompt_start = p.prompt_start.data<int32_t>();
    a.output_tokens = p.output_tokens.numel() ? p.output_tokens.data<int32_t>() : nullptr;
    a.output_start = p.output_start.data<int32_t>();
    a.counts = static_cast<int32_t*>(workspace(static_cast<size_t>(S) * V * sizeof(int32_t)));
    check(cuda::apply_penalties(a, stream_), "apply_penalties");
  }

  void mask_tokens(const Tensor& logits, const Tensor& ids, const Tensor& start) override {
    const int64_t S = logits.size(0);
    expect_device(logits, device(), "mask_tokens", "logits");
    expect_device(ids, device(), "mask_tokens", "ids");
    expect_device(start, device(), "mask_tokens", "start");
    ROTOR_CHECK(logits.dtype() == DType::F32 && logits.stride(1) == 1 && start.numel() == S + 1 &&
                    start.dtype() == DType::I32 && (ids.numel() == 0 || ids.dtype() == DType::I32),
                "mask_tokens: logits {} with {} starts", logits.str(), start.numel());
    check(cuda::mask_tokens(logits.data<float>(), logits.stride(0), static_cast<int>(S),
                            static_cast<int>(logits.size(1)), ids.numel() ? ids.data<int32_t>() : nullptr,
                            start.data<int32_t>(), stream_),
          "mask_tokens");
  }

  void apply_token_bitmask(const Tensor& logits, const Tensor& bitmask, const Tensor& rows) override {
    expect_device(logits, device(), "apply_token_bitmask", "logits");
    expect_device(bitmask, device(), "apply_token_bitmask", "bitmask");
    expect_device(rows, device(), "apply_token_bitmask", "rows");
    const int64_t V = logits.size(1), N = rows.numel();
    ROTOR_CHECK(logits.dtype() == DType::F32 && logits.stride(1) == 1 && bitmask.dtype() == DType::I32 &&
                    rows.dtype() == DType::I32 && bitmask.ndim() == 2 && bitmask.size(0) == N &&
                    bitmask.stride(1) == 1 && bitmask.size(1) * 32 >= V,
                "apply_token_bitmask: logits {}, bitmask {}, {} rows", logits.str(), bitmask.str(), N);
    check(cuda::apply_token_bitmask(logits.data<float>(), logits.stride(0), static_cast<int>(V),
                                    reinterpret_cast<const uint32_t*>(bitmask.data<int32_t>()), bitmask.stride(0),
                                    rows.data<int32_t>(), static_cast<int>(N), stream_),
          "apply_token_bitmask");
  }

  void logprobs(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob, const Tensor& token_rank,
                const Tensor& top_ids, const Tensor& top_logprobs) override {
    const int64_t S = logits.size(0), V = logits.size(1);
    const int64_t K = top_ids.defined() ? top_ids.size(1) : 0;
    ROTOR_CHECK(logits.dtype() == DType::F32 && logits.stride(1) == 1 && token_ids.numel() == S &&
                    token_ids.dtype() == DType::I32 && token_logprob.numel() == S &&
                    token_logprob.dtype() == DType::F32 && token_rank.numel() == S &&
                    token_rank.dtype() == DType::I32 &&
                    (K == 0 || (top_ids.size(0) == S && top_ids.dtype() == DType::I32 && top_ids.is_contiguous() &&
                                top_logprobs.size(0) == S && top_logprobs.size(1) == K &&
                                top_logprobs.dtype() == DType::F32 && top_logprobs.is_contiguous())) &&
                    K <= V,
                "logprobs: logits {} tokens {} top {}", logits.str(), token_ids.str(), top_ids.str());
    ROTOR_CHECK(K <= cuda::kMaxTopLogprobs, "logprobs: {} top log-probs per token; the GPU backend gives at most {}", K,
                cuda::kMaxTopLogprobs);
    cuda::LogprobArgs a{};
    a.logits = logits.data<float>();
    a.ld = logits.stride(0);
    a.S = static_cast<int>(S);
    a.V = static_cast<int>(V);
    a.token_ids = token_ids.data<int32_t>();
    a.token_logprob = token_logprob.data<float>();
    a.token_rank = token_rank.data<int32_t>();
    a.K = static_cast<int>(K);
    a.top_ids = K ? top_ids.data<int32_t>() : nullptr;
    a.top_logprobs = K ? top_logprobs.data<float>() : nullptr;
    check(cuda::logprobs(a, stream_), "logprobs");
  }

  void copy_tokens(const Tensor& src, const Tensor& src_index, const Tensor& dst, const Tensor& dst_index) override {
    const int64_t n = src_index.numel();
    ROTOR_CHECK(src.dtype() == DType::I32 && dst.dtype() == DType::I32 && src_index.dtype() == DType::I32 &&
                    dst_index.dtype() == DType::I32 && dst_index.numel() == n && src.is_contiguous() &&
                    dst.is_contiguous() && src_index.is_contiguous() && dst_index.is_contiguous(),
                "copy_tokens: src {} index {} dst {} index {}", src.str(), src_index.str(), dst.str(),
                dst_index.str());
    if (n == 0) return;
    check(cuda::copy_tokens(src.data<int32_t>(), src.numel(), src_index.data<int32_t>(), dst.data<int32_t>(),
                            dst.numel(), dst_index.data<int32_t>(), static_cast<int>(n), stream_),
          "copy_tokens");
  }

 private:
  static constexpr size_t kCublasWorkspace = 32u << 20;

  // moe_experts for int8 stacked weights (shapes checked by the caller): W8A8Dynamic experts.
  void moe_experts_w8a8(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids, const ExpertWeights& ex,
                        const Tensor& out) {
    const int64_t E = ex.num_experts, H = ex.hidden, I = ex.inter;
    for (const std::vector<LinearWeight>* p : {&ex.gate, &ex.up, &ex.down})
      for (const LinearWeight& lw : *p)
        ROTOR_CHECK(lw.kind == QuantKind::W8A8Dynamic,
                    "moe_experts: int8 experts on the GPU must be W8A8Dynamic (expert weight {})", lw.weight.str());
    ROTOR_CHECK(ex.w13_scale.dtype() == DType::F32 && ex.w13_scale.is_contiguous() &&
                    ex.w13_scale.numel() == 2 * E * I && ex.w2_scale.dtype() == DType::F32 &&
                    ex.w2_scale.is_contiguous() && ex.w2_scale.numel() == E * H,
                "moe_experts: int8 experts need w13_scale f32 [{}, {}] and w2_scale f32 [{}, {}] (got {} and {})", E,
                2 * I, E, H, ex.w13_scale.str(), ex.w2_scale.str());
    cuda::MoeW8A8Args a{};
    a.x = x.data();
    a.ldx = x.stride(0);
    a.topk_weights = topk_weights.data<float>();
    a.topk_ids = topk_ids.data<int32_t>();
    a.w13 = ex.w13.data<int8_t>();
    a.w13_scale = ex.w13_scale.data<float>();
    a.w2 = ex.w2.data<int8_t>();
    a.w2_scale = ex.w2_scale.data<float>();
    a.out = out.data();
    a.ldo = out.stride(0);
    a.T = static_cast<int>(x.size(0));
    a.H = static_cast<int>(H);
    a.I = static_cast<int>(I);
    a.E = static_cast<int>(E);
    a.topk = static_cast<int>(topk_ids.size(1));
    a.first = ex.first_expert;
    void* ws = workspace(cuda::moe_w8a8_workspace(a.T, a.H, a.I, a.E, a.topk));
    check(cuda::moe_w8a8_experts(a, w8a8_wgmma_, ws, stream_), "moe_experts (W8A8)");
  }

  cuda::AttnArgs attn_args(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& b, float scale,
                           const Tensor& out, int seq_begin, int seq_end, const char* op) const {
    const int64_t Hq = q.size(1), hd = q.size(2), Hkv = cache.k.size(1);
    ROTOR_CHECK(!cache.fp8(), "{}: the CUDA attention kernels cannot read an e4m3 KV cache yet (issue 20)", op);
    ROTOR_CHECK(q.dtype() == DType::BF16 && out.dtype() == DType::BF16 && q.stride(2) == 1 && q.stride(1) == hd &&
                    out.stride(1) == 1 && out.size(1) == Hq * hd && out.size(0) == q.size(0) &&
                    cuda::attention_head_dim_supported(static_cast<int>(hd)) && Hq % Hkv == 0 &&
                    cache.k.dtype() == DType::BF16 &&
                    cache.v.dtype() == DType::BF16 && cache.k.size(3) == hd && cache.k.is_contiguous() &&
                    cache.v.is_contiguous() && b.block_size % 16 == 0 && cache.k.size(2) == b.block_size &&
                    b.block_tables.stride(1) == 1,
                "{}: bad shapes q {} k_cache {} out {} (head_dim must be 128 or 64, block size a multiple of 16)",
                op, q.str(), cache.k.str(), out.str());
    cuda::AttnArgs a{};
    a.q = q.data();
    a.q_stride = q.stride(0);
    a.k_cache = cache.k.data();
    a.v_cache = cache.v.data();
    a.block_tables = b.block_tables.data<int32_t>();
    a.bt_stride = b.block_tables.stride(0);
    a.seq_lens = b.seq_lens.data<int32_t>();
    a.query_start = b.query_start.data<int32_t>();
    a.out = out.data();
    a.out_stride = out.stride(0);
    a.scale = scale;
    a.seq_begin = seq_begin;
    a.seq_end = seq_end;
    a.Hq = static_cast<int>(Hq);
    a.Hkv = static_cast<int>(Hkv);
    a.block_size = b.block_size;
    a.hd = static_cast<int>(hd);
    a.max_seq_len = b.max_seq_len;
    a.max_query_len = b.max_query_len;
    return a;
  }

  // The scratch buffer, grown (outside graph capture) when a call needs more.
  void* workspace(size_t bytes) {
    if (bytes == 0) return nullptr;
    if (bytes > ws_.size()) {
      cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
      check(cudaStreamIsCapturing(stream_, &status), "capture status");
      ROTOR_CHECK(status == cudaStreamCaptureStatusNone,
                  "CUDA ops: a step needs {} MiB of scratch during graph capture (reserve() set aside {} MiB)",
                  bytes >> 20, ws_.size() >> 20);
      synchronize();
      ws_ = Buffer();
      ws_ = Buffer(allocator(), (bytes + (1u << 20) - 1) / (1u << 20) * (1u << 20));
    }
    return ws_.data();
  }

  int dev_ = 0;
  int lane_ = 0;
  int num_sms_ = 0;
  bool w8a8_wgmma_ = true;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  Buffer cublas_ws_;
  Buffer ws_;
};

}  // namespace

std::unique_ptr<Ops> make_cuda_ops(int device, int lane) {
  ROTOR_CHECK(device >= 0 && device < cuda_device_count(), "cuda:{}: no such GPU ({} present)", device,
              cuda_device_count());
  ROTOR_CHECK(lane >= 0, "cuda:{}: lane {}", device, lane);
  return std::make_unique<CudaOps>(device, lane);
}

cudaStream_t cuda_stream(Ops& ops) {
  auto* c = dynamic_cast<CudaOps*>(&ops);
  ROTOR_CHECK(c != nullptr, "not a CUDA backend");
  return c->stream();
}

}  // namespace rotor
