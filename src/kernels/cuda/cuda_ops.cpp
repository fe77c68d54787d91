// kernels/cuda/cuda_ops.cpp — CudaOps: the Ops interface on one GPU in bf16 (and int8 for
// W8A8 weights). Ops's front has checked each op's contract; CudaOps checks the GPU's own limits
// (bf16, alignment, supported sizes; one-line errors naming each), then calls the kernel
// launchers (<op>.cuh) on the GPU's stream. Scratch memory is one grow-only buffer, sized up
// front by reserve() so that no step allocates (and none may while a CUDA graph is being
// captured); the fused router's ticket is set aside (and zeroed) when the backend is made.
// ROTOR_W8A8_WGMMA=0 in the environment (read when a backend is made) runs the
// W8A8 GEMMs of many rows on mma.sync instead of Hopper warpgroup MMA (the same results);
// ROTOR_MOE_SMALL (read likewise: 0, all, or 1 / unset) picks the batches whose experts take the
// two-kernel small path (moe_small.cuh) instead of the tiles: none, every batch it can take, or
// those it was measured faster on (cuda::MoeSmall; W8A8: the same bits, bf16: the same up to
// bf16 rounding). ROTOR_GEMV=0 runs the dense GEMMs of a few rows on the mma tiles (and a
// router of a few rows as that GEMM and moe_route, not the GEMV with its top-k fused).
// ROTOR_GATEUP_STAGES=3|4 fixes the 16-row expert gate+up tiles' depth (unset: by load, for A/B).
// ROTOR_FUSED_ALIGN=0 gives the W8A8 experts' quantisation of x its launch back (the same bits,
// for A/B). ROTOR_RESIDENT_DOWN (0, all, or 1 / unset) picks where the W8A8 experts' 128-row
// down tiles keep each tile's h resident (cuda::ResidentDown; the same bits as the two-an-SM
// wgmma blocks).
#include <cublas_v2.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/arg_check.h"
#include "core/check.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/copy_tokens.cuh"
#include "kernels/cuda/prefetch_l2.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/embed.cuh"
#include "kernels/cuda/fill_random.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/gemm_w8a8.cuh"
#include "kernels/cuda/gemv.cuh"
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

// The GPU's limits beyond the ops' contract (kernels/op_contract.h), each named in its error.

// The quantised activation's int8 rows [T, K]: K and the row stride multiples of 8 bytes.
void expect_i8_rows(const Tensor& t, const char* op, const char* name) {
  ROTOR_CHECK(t.stride(0) % 8 == 0 && t.size(1) % 8 == 0 && aligned8(t.data()),
              "{}: the GPU backend needs {}'s rows 8-byte aligned (K and the row stride multiples of 8), got {} with "
              "row stride {}",
              op, name, t.str(), t.stride(0));
}

// Activation rows [T, H] in bf16, 16-byte aligned: the row stride a multiple of 8 elements.
void expect_bf16_rows(const Tensor& t, const char* op, const char* name) {
  ROTOR_CHECK(t.dtype() == DType::BF16, "{}: the GPU backend needs {} in bf16, got {}", op, name, t.str());
  ROTOR_CHECK(t.stride(0) % 8 == 0 && aligned16(t.data()),
              "{}: the GPU backend needs {}'s rows 16-byte aligned (row stride a multiple of 8), got {} with row "
              "stride {}",
              op, name, t.str(), t.stride(0));
}

// A weight vector (norm weight, bias) in bf16, 16-byte aligned.
void expect_bf16_vector(const Tensor& t, const char* op, const char* name) {
  ROTOR_CHECK(t.dtype() == DType::BF16 && aligned16(t.data()),
              "{}: the GPU backend needs {} in bf16, 16-byte aligned, got {}", op, name, t.str());
}

// embed's rows, copied as 16-byte vectors: one dtype, contiguous, 16-byte aligned rows.
void expect_row_copy(const Tensor& table, const Tensor& out, const char* op) {
  const int64_t H = table.size(1);
  ROTOR_CHECK(table.dtype() == out.dtype(),
              "{}: the GPU backend copies rows: table and out must have one dtype, got {} and {}", op, table.str(),
              out.str());
  ROTOR_CHECK(table.stride(0) == H && out.stride(0) == H,
              "{}: the GPU backend needs table and out contiguous, got row strides {} and {} for H = {}", op,
              table.stride(0), out.stride(0), H);
  ROTOR_CHECK((H * dtype_size(table.dtype())) % 16 == 0 && aligned16(table.data()) && aligned16(out.data()),
              "{}: the GPU backend needs rows of a multiple of 16 bytes, 16-byte aligned, got {} and {}", op,
              table.str(), out.str());
}

// W rows a block of the W8A8 wgmma tiles unless ROTOR_W8A8_WGMMA names 128 or 256 for both (0:
// the mma.sync tiles): the dense GEMMs on 256 (one block an SM), the experts on 128 (two an SM;
// 3-10% faster there at 16,384-2,048 tokens, 2-15% slower on the dense shapes: perf-log
// 2026-12-06 22:29).
constexpr int kW8A8DenseCols = 256;
constexpr int kW8A8ExpertCols = 128;

// A switch: VAR=1 on, VAR=0 off, unset the default, anything else an error.
bool env_flag(const char* var, bool fallback = false) {
  const char* v = std::getenv(var);
  ROTOR_CHECK(v == nullptr || !std::strcmp(v, "0") || !std::strcmp(v, "1"), "{}={}: expected 0 or 1", var, v);
  return v == nullptr ? fallback : !std::strcmp(v, "1");
}

// A three-way choice (cuda::MoeSmall, cuda::ResidentDown): VAR=0 Off, VAR=1 or unset
// Measured, VAR=all All, anything else an error.
template <typename Choice>
Choice env_choice(const char* var) {
  const char* v = std::getenv(var);
  ROTOR_CHECK(v == nullptr || !std::strcmp(v, "0") || !std::strcmp(v, "1") || !std::strcmp(v, "all"),
              "{}={}: expected 0, 1 or all", var, v);
  return v == nullptr || !std::strcmp(v, "1") ? Choice::Measured : !std::strcmp(v, "0") ? Choice::Off : Choice::All;
}

// A pipeline depth: VAR=3 or 4, unset the fallback, anything else an error.
int env_stages(const char* var, int fallback) {
  const char* v = std::getenv(var);
  ROTOR_CHECK(v == nullptr || !std::strcmp(v, "3") || !std::strcmp(v, "4"), "{}={}: expected 3 or 4", var, v);
  return v == nullptr ? fallback : std::atoi(v);
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
    ROTOR_CHECK(wg == nullptr || !std::strcmp(wg, "0") || !std::strcmp(wg, "1") || !std::strcmp(wg, "128") ||
                    !std::strcmp(wg, "256"),
                "ROTOR_W8A8_WGMMA={}: expected 0, 1, 128 or 256", wg);
    const bool fallback = wg == nullptr || !std::strcmp(wg, "1");
    w8a8_dense_cols_ = fallback ? kW8A8DenseCols : std::atoi(wg);
    w8a8_expert_cols_ = fallback ? kW8A8ExpertCols : std::atoi(wg);
    const char* gv = std::getenv("ROTOR_GEMV");
    gemv_ = gv == nullptr || std::strcmp(gv, "0") != 0;
    moe_small_ = env_choice<cuda::MoeSmall>("ROTOR_MOE_SMALL");
    fused_router_ = env_flag("ROTOR_FUSED_ROUTER");
    early_loads_ = env_flag("ROTOR_EARLY_LOADS");
    early_experts_ = env_flag("ROTOR_EARLY_EXPERTS", true);
    early_attention_ = env_flag("ROTOR_EARLY_ATTENTION", true);
    fused_qk_attention_ = env_flag("ROTOR_FUSED_QK_ATTENTION", true);
    fused_quant_ = env_flag("ROTOR_FUSED_QUANT", true);
    e4m3_stages_ = env_stages("ROTOR_E4M3_STAGES", 4);
    gate_up_stages_ = env_stages("ROTOR_GATEUP_STAGES", 0);
    merge_wide_ = env_flag("ROTOR_MERGE_WIDE", true);
    narrow_gemm_ = env_flag("ROTOR_NARROW_GEMM", true);
    fused_align_ = env_flag("ROTOR_FUSED_ALIGN", true);
    resident_down_ = env_choice<cuda::ResidentDown>("ROTOR_RESIDENT_DOWN");
    check(cudaSetDevice(dev_), "set device");
    stream_ = cuda_stream(dev_, lane_);
    check(cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount, dev_), "device attribute");
    int l2 = 0;
    check(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev_), "device attribute");
    l2_bytes_ = l2;
    for (int fp8 = 0; fp8 < 2; ++fp8) {
      for (int wide = 0; wide < 2; ++wide) {  // query-head groups of up to 8, or more
        const int group = 8 + 8 * wide;
        decode_blocks_per_sm_[fp8][0][wide] =
            cuda::attention_decode_blocks_per_sm(64, fp8, e4m3_stages_, group, fused_qk_attention_);
        decode_blocks_per_sm_[fp8][1][wide] =
            cuda::attention_decode_blocks_per_sm(128, fp8, e4m3_stages_, group, fused_qk_attention_);
      }
    }
    ROTOR_CHECK(cublasCreate(&cublas_) == CUBLAS_STATUS_SUCCESS, "cuBLAS: cannot create a handle");
    ROTOR_CHECK(cublasSetStream(cublas_, stream_) == CUBLAS_STATUS_SUCCESS, "cuBLAS: cannot set the stream");
    cublas_ws_ = Buffer(allocator(), kCublasWorkspace);
    ROTOR_CHECK(cublasSetWorkspace(cublas_, cublas_ws_.data(), kCublasWorkspace) == CUBLAS_STATUS_SUCCESS,
                "cuBLAS: cannot set the workspace");
    route_ticket_ = Buffer(allocator(), sizeof(unsigned));
    check(cudaMemsetAsync(route_ticket_.data(), 0, sizeof(unsigned), stream_), "clear the router's ticket");
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
  // At most a third of L2 per prefetch, so KV tiles and activations keep their share.
  void prefetch_l2(const Tensor& t, double ratio) override {
    ROTOR_CHECK(t.is_contiguous() && ratio >= 0.0 && ratio <= 1.0,
                "prefetch_l2: a contiguous tensor and a ratio in [0, 1] (got {})", ratio);
    const size_t budget = static_cast<size_t>(l2_bytes_) / 3;
    const size_t bytes = std::min(static_cast<size_t>(ratio * static_cast<double>(t.nbytes())), budget);
    check(cuda::prefetch_l2(t.data(), bytes, stream_), "prefetch_l2");
  }
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
    if (l.max_seqs > 0 && l.max_model_len > 0) {
      need = std::max(need, cuda::attention_decode_workspace(l.max_seqs, l.q_heads, l.max_model_len));
      // A split plan's items: its wave is largest with one KV head of at most 16 query heads
      // (and whichever cache dtype fits more blocks).
      for (bool fp8 : {false, true}) {
        const DecodeSplitParams p = decode_split_params(l.q_heads, 1, l.head_dim, fp8);
        need = std::max(need, cuda::attention_decode_plan_workspace(
                                  decode_plan_max_items(p, l.max_seqs, l.max_model_len), l.q_heads));
      }
    }
    need = std::max(need, static_cast<size_t>(l.max_seqs) * l.vocab * sizeof(float));  // sampling, penalties
    workspace(need);
  }
  cudaStream_t stream() const { return stream_; }

 private:
  // The ops, their arguments checked by Ops's front against the contract (kernels/op_contract.h);
  // the checks here are the GPU's own limits.
  void embed_impl(const Tensor& ids, const Tensor& table, const Tensor& out) override {
    expect_row_copy(table, out, "embed");
    const int64_t T = ids.numel(), H = table.size(1);
    check(cuda::embed(ids.data<int32_t>(), T, table.data(), table.size(0),
                      H * static_cast<int64_t>(dtype_size(table.dtype())), out.data(), stream_),
          "embed");
  }

  void embed_shard_impl(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) override {
    expect_row_copy(table, out, "embed_shard");
    const int64_t T = ids.numel(), H = table.size(1);
    check(cuda::embed_shard(ids.data<int32_t>(), T, table.data(), table.size(0), first,
                            H * static_cast<int64_t>(dtype_size(table.dtype())), out.data(), stream_),
          "embed_shard");
  }

  void rms_norm_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
                     const Tensor& residual) override {
    const int64_t T = x.size(0), H = x.size(1);
    expect_bf16_rows(x, "rms_norm", "x");
    expect_bf16_rows(out, "rms_norm", "out");
    if (residual.defined()) expect_bf16_rows(residual, "rms_norm", "residual");
    expect_bf16_vector(w, "rms_norm", "w");
    if (bias.defined()) expect_bf16_vector(bias, "rms_norm", "bias");
    check(cuda::rms_norm(x.data(), x.stride(0), w.data(), bias.defined() ? bias.data() : nullptr, eps, out.data(),
                         out.stride(0), residual.defined() ? residual.data() : nullptr,
                         residual.defined() ? residual.stride(0) : 0, T, H, stream_),
          "rms_norm");
  }

  void qk_norm_rope_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                         const Tensor& rope_cos_sin, const AttentionBatch& b, const LayerKVCache& cache,
                         const Tensor& q_out) override {
    const int64_t T = b.num_tokens, Hq = q_out.size(1), hd = q_out.size(2), Hkv = cache.k.size(1);
    ROTOR_CHECK(qkv.dtype() == DType::BF16 && q_out.dtype() == DType::BF16 &&
                    (cache.k.dtype() == DType::BF16 || cache.fp8()) && q_norm_w.dtype() == DType::BF16 &&
                    k_norm_w.dtype() == DType::BF16,
                "qk_norm_rope: the GPU backend needs qkv, q_out and the norm weights in bf16 and the KV cache in bf16 "
                "or e4m3, got qkv {}, q_out {}, cache.k {}, q_norm_w {}, k_norm_w {}",
                qkv.str(), q_out.str(), cache.k.str(), q_norm_w.str(), k_norm_w.str());
    ROTOR_CHECK(hd % 64 == 0 && hd <= 256,
                "qk_norm_rope: the GPU backend needs head_dim a multiple of 64 up to 256, got {}", hd);
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

  void attention_decode_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& b, float scale,
                             const Tensor& out) override {
    run_attention_decode(attn_args(q, cache, b, scale, out, 0, b.num_decode_seqs, "attention_decode"), b,
                         "attention_decode");
  }

  // One kernel (unless ROTOR_FUSED_QK_ATTENTION=0) where the cache's FP8 scales are given (not computed
  // this step) and the head size is the decode kernel's; else the two ops.
  void qk_norm_rope_attention_decode_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w,
                                          float eps, const Tensor& rope_cos_sin, const AttentionBatch& b,
                                          const LayerKVCache& cache, float scale, const Tensor& q_scratch,
                                          const Tensor& out) override {
    const char* op = "qk_norm_rope_attention_decode";
    if (!fused_qk_attention_ || (cache.fp8() && cache.calculate_scales) ||
        !cuda::attention_head_dim_supported(static_cast<int>(q_scratch.size(2)))) {
      Ops::qk_norm_rope_attention_decode_impl(qkv, q_norm_w, k_norm_w, eps, rope_cos_sin, b, cache, scale, q_scratch,
                                              out);
      return;
    }
    ROTOR_CHECK(qkv.dtype() == DType::BF16 && q_norm_w.dtype() == DType::BF16 && k_norm_w.dtype() == DType::BF16,
                "{}: the GPU backend needs qkv and the norm weights in bf16, got qkv {}, q_norm_w {}, k_norm_w {}", op,
                qkv.str(), q_norm_w.str(), k_norm_w.str());
    cuda::AttnArgs a = attn_args(q_scratch, cache, b, scale, out, 0, b.num_decode_seqs, op);
    a.q = qkv.data();
    a.q_stride = qkv.stride(0);
    a.qk_fused = true;
    a.qk.q_norm_w = q_norm_w.data();
    a.qk.k_norm_w = k_norm_w.data();
    a.qk.eps = eps;
    a.qk.rope = rope_cos_sin.data<float>();
    a.qk.max_pos = static_cast<int>(rope_cos_sin.size(0));
    a.qk.positions = b.positions.data<int32_t>();
    a.qk.slots = b.slot_mapping.data<int32_t>();
    a.qk.num_slots = cache.k.size(0) * cache.k.size(2);
    run_attention_decode(a, b, op);
  }

  // The decode kernel on a's rows: the fixed splits, or the batch's split plan.
  void run_attention_decode(cuda::AttnArgs a, const AttentionBatch& b, const char* op) {
    if (!b.decode_plan.defined()) {
      void* ws = workspace(cuda::attention_decode_workspace(b.num_decode_seqs, a.Hq, a.max_seq_len));
      check(cuda::attention_decode(a, ws, stream_), op);
      return;
    }
    // The plan lies on the device: its items are bounded by what the planner may produce for
    // these rows (the grid), which the runner checked on the host.
    const Tensor& plan = b.decode_plan;
    ROTOR_CHECK(plan.dtype() == DType::I32 && plan.device() == device() && plan.is_contiguous() &&
                    plan.numel() >= decode_plan_size(b.num_decode_seqs, 1),
                "{}: the split plan must be i32 on {} with room for {} rows (got {})", op, device().str(),
                b.num_decode_seqs, plan.str());
    a.plan = plan.data<int32_t>();
    a.plan_max_items = decode_plan_max_items(decode_split_params(a.Hq, a.Hkv, a.hd, a.kv_fp8), b.num_decode_seqs,
                                             std::max(a.max_seq_len, 1));
    void* ws = workspace(cuda::attention_decode_plan_workspace(a.plan_max_items, a.Hq));
    const cudaError_t err = cuda::attention_decode(a, ws, stream_);
    if (err != cudaSuccess) check(err, (std::string(op) + " (split plan)").c_str());  // the name built on failure only
  }
  // One wave of the decode kernel: SMs x resident blocks / blocks per item.
  DecodeSplitParams decode_split_params(int q_heads, int kv_heads, int head_dim, bool kv_fp8) const override {
    const int group = q_heads / std::max(kv_heads, 1);
    const int per_sm = decode_blocks_per_sm_[kv_fp8][head_dim == 64 ? 0 : 1][group > 8];
    const int per_item = cuda::attention_decode_blocks_per_item(q_heads, std::max(kv_heads, 1));
    DecodeSplitParams p;
    p.target_items = std::max(1, num_sms_ * std::max(per_sm, 1) / std::max(per_item, 1));
    p.max_chunk = cuda::kDecodePartition;
    p.plan_by_default = true;  // no slower than the fixed splits at batch 8-32, faster below (perf-log)
    return p;
  }

  void attention_prefill_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& b, float scale,
                              const Tensor& out) override {
    const cuda::AttnArgs a = attn_args(q, cache, b, scale, out, b.num_decode_seqs, b.num_seqs, "attention_prefill");
    check(cuda::attention_prefill(a, stream_), "attention_prefill");
  }

  void gemm_impl(const Tensor& x, const LinearWeight& w, const Tensor& out) override {
    run_gemm(dense_gemm(x, w, out, "gemm"));
  }

  void quant_static_impl(const Tensor& x, float scale, float offset, const Tensor& out) override {
    const int64_t T = x.size(0), K = x.size(1);
    expect_bf16_rows(x, "quant_static", "x");
    expect_i8_rows(out, "quant_static", "out");
    check(cuda::quant_static(x.data(), x.stride(0), scale, offset, out.data<int8_t>(), out.stride(0), T, K, stream_),
          "quant_static");
  }

  void quant_per_token_impl(const Tensor& x, const Tensor& out, const Tensor& scales) override {
    const int64_t T = x.size(0), K = x.size(1);
    expect_bf16_rows(x, "quant_per_token", "x");
    expect_i8_rows(out, "quant_per_token", "out");
    check(cuda::quant_per_token(x.data(), x.stride(0), out.data<int8_t>(), out.stride(0), scales.data<float>(), T, K,
                                stream_),
          "quant_per_token");
  }

  void rms_norm_quant_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale, float offset,
                           const Tensor& out, const Tensor& residual) override {
    const int64_t T = x.size(0), H = x.size(1);
    expect_bf16_rows(x, "rms_norm_quant", "x");
    expect_i8_rows(out, "rms_norm_quant", "out");
    if (residual.defined()) expect_bf16_rows(residual, "rms_norm_quant", "residual");
    expect_bf16_vector(w, "rms_norm_quant", "w");
    if (bias.defined()) expect_bf16_vector(bias, "rms_norm_quant", "bias");
    check(cuda::rms_norm_quant(x.data(), x.stride(0), w.data(), bias.defined() ? bias.data() : nullptr, eps, scale,
                               offset, out.data<int8_t>(), out.stride(0), residual.defined() ? residual.data() : nullptr,
                               residual.defined() ? residual.stride(0) : 0, T, H, stream_),
          "rms_norm_quant");
  }

  // The W8A8 GEMM's arguments (x_q's and the weight's alignment checked).
  static cuda::W8A8Gemm w8a8_gemm(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) {
    const int64_t M = x_q.size(0), K = x_q.size(1), N = w.out_features();
    ROTOR_CHECK(aligned16(x_q.data()) && aligned16(w.weight.data()),
                "gemm_w8a8: the GPU backend needs x_q and the weight 16-byte aligned, got {} and {}", x_q.str(),
                w.weight.str());
    ROTOR_CHECK(K % 16 == 0, "gemm_w8a8: the GPU backend needs K a multiple of 16, got {}", K);
    ROTOR_CHECK(M < (int64_t{1} << 31) && N < (int64_t{1} << 31),
                "gemm_w8a8: the GPU backend needs M and N below 2^31, got {} and {}", M, N);
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
      o.weight_scale = w.weight_scale.data<float>();
      o.x_scales = x_scales.data<float>();
    } else {
      o.deq_scale = w.deq_scale.data<float>();
      o.quant_bias = w.quant_bias.defined() ? w.quant_bias.data<int32_t>() : nullptr;
    }
    return g;
  }

  void gemm_w8a8_impl(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) override {
    const cuda::W8A8Gemm g = w8a8_gemm(x_q, x_scales, w, out);
    if (gemv_ && cuda::gemv_fits(g))
      check(cuda::gemv_w8a8(g, early_loads_, stream_), "gemm_w8a8 (GEMV)");
    else
      check(cuda::gemm_w8a8(g, w8a8_dense_cols_, num_sms_, early_loads_, stream_), "gemm_w8a8");
  }

  // At the GEMV's rows one kernel quantising x itself (ROTOR_FUSED_QUANT=0: the two ops).
  void linear_w8a8_static_impl(const Tensor& x, const LinearWeight& w, const Tensor& xq, const Tensor& out) override {
    expect_bf16_rows(x, "linear_w8a8_static", "x");
    const cuda::W8A8Gemm g = w8a8_gemm(xq, Tensor{}, w, out);
    if (fused_quant_ && gemv_ && cuda::gemv_static_fits(g, x.data(), x.stride(0))) {
      check(cuda::gemv_w8a8_static(g, x.data(), x.stride(0), w.input_scale, w.input_offset, early_loads_, stream_),
            "linear_w8a8_static (GEMV)");
      return;
    }
    quant_static_impl(x, w.input_scale, w.input_offset, xq);
    gemm_w8a8_impl(xq, Tensor{}, w, out);
  }

  void moe_route_impl(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
                      const Tensor& topk_ids) override {
    expect_route_experts(logits.size(1), "moe_route");
    run_route(logits, top_k, renormalize, topk_weights, topk_ids);
  }

  void route_experts_impl(const Tensor& x, const LinearWeight& router, int top_k, bool renormalize,
                          const Tensor& logits, const Tensor& topk_weights, const Tensor& topk_ids) override {
    const cuda::DenseGemm g = dense_gemm(x, router, logits, "route_experts");
    expect_route_experts(g.N, "route_experts");
    if (fused_router_ && gemv_ && cuda::gemv_fits(g)) {  // the GEMV's rows: one kernel, the two launches' bits
      const cuda::GemvTopK topk{top_k, renormalize, topk_weights.data<float>(), topk_ids.data<int32_t>(),
                                static_cast<unsigned*>(route_ticket_.data())};
      check(cuda::gemv_route(g, topk, early_loads_, stream_), "route_experts (GEMV + top-k)");
      return;
    }
    run_gemm(g);
    run_route(logits, top_k, renormalize, topk_weights, topk_ids);
  }

  void moe_experts_impl(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids, const ExpertWeights& ex,
                        const Tensor& out) override {
    const int64_t T = x.size(0), H = x.size(1), K = topk_ids.size(1), E = ex.num_experts, I = ex.inter;
    ROTOR_CHECK(ex.w13.defined() && ex.w2.defined(),
                "moe_experts: the GPU backend needs stacked expert weights (ExpertWeights::w13, w2)");
    expect_bf16_rows(x, "moe_experts", "x");
    expect_bf16_rows(out, "moe_experts", "out");
    const bool int8 = ex.w13.dtype() == DType::I8;
    const DType wdt = int8 ? DType::I8 : DType::BF16;
    expect_vector("moe_experts", "experts.w13 (the GPU's stacked gate and up)", ex.w13, wdt,
                  {"E * 2I * H", 2 * E * I * H});
    expect_vector("moe_experts", "experts.w2 (the GPU's stacked down)", ex.w2, wdt, {"E * H * I", E * H * I});
    ROTOR_CHECK(aligned16(ex.w13.data()) && aligned16(ex.w2.data()),
                "moe_experts: the GPU backend needs experts.w13 and w2 16-byte aligned, got {} and {}", ex.w13.str(),
                ex.w2.str());
    const int64_t multiple = int8 ? 16 : 8;
    ROTOR_CHECK(H % multiple == 0 && I % multiple == 0,
                "moe_experts: the GPU backend needs H and I multiples of {} ({} experts), got H = {}, I = {}", multiple,
                int8 ? "int8" : "bf16", H, I);
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
    a.early = early_experts_;
    a.num_sms = num_sms_;
    void* ws = workspace(cuda::moe_workspace(a.T, a.H, a.I, a.E, a.topk));
    check(cuda::moe_experts(a, moe_small_, gate_up_stages_, ws, stream_), "moe_experts");
  }

  void fill_random_impl(const Tensor& t, uint64_t seed, float mean, float std) override {
    check(cuda::fill_random(t.data(), t.dtype(), t.numel(), seed, mean, std, stream_), "fill_random");
  }

  void sample_impl(const Tensor& logits, const SamplingBatch& p, const Tensor& out_ids) override {
    const int64_t S = logits.size(0);
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

  void apply_penalties_impl(const Tensor& logits, const PenaltyBatch& p) override {
    const int64_t S = logits.size(0), V = logits.size(1);
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

  void mask_tokens_impl(const Tensor& logits, const Tensor& ids, const Tensor& start) override {
    const int64_t S = logits.size(0);
    check(cuda::mask_tokens(logits.data<float>(), logits.stride(0), static_cast<int>(S),
                            static_cast<int>(logits.size(1)), ids.numel() ? ids.data<int32_t>() : nullptr,
                            start.data<int32_t>(), stream_),
          "mask_tokens");
  }

  void apply_token_bitmask_impl(const Tensor& logits, const Tensor& bitmask, const Tensor& rows) override {
    const int64_t V = logits.size(1), N = rows.numel();
    if (N == 0) return;
    check(cuda::apply_token_bitmask(logits.data<float>(), logits.stride(0), static_cast<int>(V),
                                    reinterpret_cast<const uint32_t*>(bitmask.data<int32_t>()), bitmask.stride(0),
                                    rows.data<int32_t>(), static_cast<int>(N), stream_),
          "apply_token_bitmask");
  }

  void logprobs_impl(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob,
                     const Tensor& token_rank, const Tensor& top_ids, const Tensor& top_logprobs) override {
    const int64_t S = logits.size(0), V = logits.size(1);
    const int64_t K = top_ids.defined() ? top_ids.size(1) : 0;
    ROTOR_CHECK(K <= cuda::kMaxTopLogprobs,
                "logprobs: the GPU backend gives at most {} top log-probs per token, got K = {}", cuda::kMaxTopLogprobs,
                K);
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

  void copy_tokens_impl(const Tensor& src, const Tensor& src_index, const Tensor& dst,
                        const Tensor& dst_index) override {
    const int64_t n = src_index.numel();
    if (n == 0) return;
    check(cuda::copy_tokens(src.data<int32_t>(), src.numel(), src_index.data<int32_t>(), dst.data<int32_t>(),
                            dst.numel(), dst_index.data<int32_t>(), static_cast<int>(n), stream_),
          "copy_tokens");
  }

  static constexpr size_t kCublasWorkspace = 32u << 20;

  // moe_experts for int8 stacked weights (shapes checked by the caller): W8A8Dynamic experts.
  void moe_experts_w8a8(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids, const ExpertWeights& ex,
                        const Tensor& out) {
    const int64_t E = ex.num_experts, H = ex.hidden, I = ex.inter;
    for (const std::vector<LinearWeight>* p : {&ex.gate, &ex.up, &ex.down})
      for (const LinearWeight& lw : *p)
        ROTOR_CHECK(lw.kind == QuantKind::W8A8Dynamic,
                    "moe_experts: the GPU backend's int8 experts must be W8A8Dynamic, got another kind for the expert "
                    "weight {}",
                    lw.weight.str());
    expect_vector("moe_experts", "experts.w13_scale (of int8 experts)", ex.w13_scale, DType::F32,
                  {"E * 2I", 2 * E * I});
    expect_vector("moe_experts", "experts.w2_scale (of int8 experts)", ex.w2_scale, DType::F32, {"E * H", E * H});
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
    a.early = early_experts_;
    a.num_sms = num_sms_;
    a.fused_align = fused_align_;
    a.resident_down = resident_down_;
    void* ws = workspace(cuda::moe_w8a8_workspace(a.T, a.H, a.I, a.E, a.topk));
    check(cuda::moe_w8a8_experts(a, w8a8_expert_cols_, moe_small_, gate_up_stages_, ws, stream_), "moe_experts (W8A8)");
  }

  // A dense GEMM's arguments once the GPU's limits are met (op names the errors' op).
  static cuda::DenseGemm dense_gemm(const Tensor& x, const LinearWeight& w, const Tensor& out, const char* op) {
    const int64_t M = x.size(0), K = x.size(1), N = w.out_features();
    expect_bf16_rows(x, op, "x");
    ROTOR_CHECK(w.weight.dtype() == DType::BF16 && w.weight.is_contiguous() && aligned16(w.weight.data()),
                "{}: the GPU backend needs the weight bf16, contiguous and 16-byte aligned, got {}", op,
                w.weight.str());
    ROTOR_CHECK(K % 8 == 0, "{}: the GPU backend needs K a multiple of 8, got {}", op, K);
    ROTOR_CHECK(!w.bias.defined() || w.bias.dtype() == DType::F32 || w.bias.dtype() == DType::BF16,
                "{}: the GPU backend needs the bias in f32 or bf16, got {}", op, w.bias.str());
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
    return g;
  }

  // The GEMV kernels up to cuda::kGemvRows rows (unless ROTOR_GEMV=0), our tiles up to
  // cuda::kSmallGemmRows, cuBLAS above.
  void run_gemm(const cuda::DenseGemm& g) {
    if (gemv_ && cuda::gemv_fits(g)) {
      check(cuda::gemv_bf16(g, early_loads_, stream_), "gemm (GEMV)");
    } else if (g.M <= cuda::kSmallGemmRows) {
      check(cuda::small_gemm(g, num_sms_, early_loads_, narrow_gemm_, stream_), "gemm");
    } else {
      check(cuda::cublas_gemm(g, cublas_, stream_), "gemm (cuBLAS)");
    }
  }

  // The router's experts: E within what a warp routes.
  static void expect_route_experts(int64_t E, const char* op) {
    ROTOR_CHECK(E <= cuda::kMaxRouteExperts, "{}: the GPU backend routes among at most {} experts, got E = {}", op,
                cuda::kMaxRouteExperts, E);
  }

  void run_route(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
                 const Tensor& topk_ids) {
    check(cuda::moe_route(logits.data<float>(), logits.stride(0), static_cast<int>(logits.size(0)),
                          static_cast<int>(logits.size(1)), top_k, renormalize, topk_weights.data<float>(),
                          topk_ids.data<int32_t>(), stream_),
          "moe_route");
  }

  cuda::AttnArgs attn_args(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& b, float scale,
                           const Tensor& out, int seq_begin, int seq_end, const char* op) const {
    const int64_t Hq = q.size(1), hd = q.size(2), Hkv = cache.k.size(1);
    ROTOR_CHECK(q.dtype() == DType::BF16 && out.dtype() == DType::BF16 &&
                    (cache.k.dtype() == DType::BF16 || cache.fp8()),
                "{}: the GPU backend needs q and out in bf16 and the KV cache in bf16 or e4m3, got q {}, out {}, "
                "cache.k {}",
                op, q.str(), out.str(), cache.k.str());
    ROTOR_CHECK(cuda::attention_head_dim_supported(static_cast<int>(hd)),
                "{}: the GPU backend needs head_dim 128 or 64, got {}", op, hd);
    ROTOR_CHECK(b.block_size % 16 == 0, "{}: the GPU backend needs block_size a multiple of 16, got {}", op,
                b.block_size);
    cuda::AttnArgs a{};
    a.q = q.data();
    a.q_stride = q.stride(0);
    a.k_cache = cache.k.data();
    a.v_cache = cache.v.data();
    a.kv_fp8 = cache.fp8();
    a.kv_scales = cache.fp8() ? cache.scales.data<float>() : nullptr;
    a.e4m3_stages = e4m3_stages_;
    a.merge_wide = merge_wide_;
    a.early_kv = early_attention_;
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
  int64_t l2_bytes_ = 0;
  // [e4m3 cache][head size 64, 128][query-head group > 8], of the kernel a step of decodes runs
  // (with QK-norm + RoPE fused in unless ROTOR_FUSED_QK_ATTENTION=0)
  int decode_blocks_per_sm_[2][2][2] = {};
  // W8A8 prefill tiles, dense and experts: wgmma blocks of 256 or 128 W rows, 0 mma.sync.
  int w8a8_dense_cols_ = kW8A8DenseCols;
  int w8a8_expert_cols_ = kW8A8ExpertCols;
  // route_experts at the GEMV's rows in one kernel (gemv_route; ROTOR_FUSED_ROUTER=1): off,
  // slower at batch 1 on an H100 (docs/perf-log.md, 2026-12-06 03:08).
  bool fused_router_ = false;
  // The GEMVs' and small-M tiles' weights loaded or prefetched before pdl_wait
  // (ROTOR_EARLY_LOADS=1): off, no step was faster for it (docs/perf-log.md, 2026-12-06 02:43).
  bool early_loads_ = false;
  // Decode attention's blocks without this step's token issuing their first K/V tiles before
  // pdl_wait (ROTOR_EARLY_ATTENTION=0: after): on since no step was slower and the TP-8 rank's
  // batch 1 fell 2.7-3.0% (docs/perf-log.md, 2026-12-06 04:00).
  bool early_attention_ = true;
  // A step of decode rows only taking QK-norm + RoPE and the cache write inside the decode
  // attention kernel (qk_norm_rope_attention_decode; ROTOR_FUSED_QK_ATTENTION=0: two ops): on
  // since the TP-8 rank's batch 2-8 steps fell 1-3% in two runs and no step rose past the runs'
  // spread (docs/perf-log.md, 2026-12-06 06:02).
  bool fused_qk_attention_ = true;
  // The small experts' down kernel reading its weights, their scales and the router's outputs
  // before pdl_wait, while gate+up runs (ROTOR_EARLY_EXPERTS=0: after): on since the TP-8 rank's
  // batch 1-2 steps fell 2.7-6.2% with it (docs/perf-log.md, 2026-12-06 03:35).
  bool early_experts_ = true;
  // A static W8A8 linear's quantisation inside its GEMV at 1-4 rows (ROTOR_FUSED_QUANT=0: apart):
  // on since the TP-8 rank's W8A8 batch-1 step fell 6% with it (docs/perf-log.md, 2026-12-06 02:43).
  bool fused_quant_ = true;
  int e4m3_stages_ = 4;          // e4m3 decode attention's tiles in flight per warp (ROTOR_E4M3_STAGES=3|4)
  int gate_up_stages_ = 0;       // 16-row expert gate+up stages (ROTOR_GATEUP_STAGES=3|4; 0: by load)
  // Decode attention's merge by 8 thread groups where splits are many (ROTOR_MERGE_WIDE=0: one).
  bool merge_wide_ = true;
  // Dense bf16 GEMMs of few rows and small N (routers) in 16-row W blocks (ROTOR_NARROW_GEMM=0:
  // 64-row blocks, 16 for a router of 128 experts).
  bool narrow_gemm_ = true;
  // The W8A8 experts: x quantised in align's launch (ROTOR_FUSED_ALIGN=0: its own): on since
  // 30B-A3B's W8A8 batch 4-32 steps fell 1-2% with it and the TP-8 rank's moved within the
  // runs' spread (docs/perf-log.md, 2026-12-06 11:30); prefill's too since 2026-12-07.
  bool fused_align_ = true;
  // Where the W8A8 experts' 128-row down tiles keep each tile's h resident (ROTOR_RESIDENT_DOWN).
  cuda::ResidentDown resident_down_ = cuda::ResidentDown::Measured;
  bool gemv_ = true;  // dense GEMMs of up to cuda::kGemvRows rows on the GEMV kernels (ROTOR_GEMV=0: off)
  cuda::MoeSmall moe_small_ = cuda::MoeSmall::Measured;  // which batches' experts take moe_small.cuh
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  Buffer cublas_ws_;
  Buffer ws_;
  // [1] u32: the fused router's count of its blocks done (cuda::GemvTopK::ticket), 0 between
  // launches; those on this stream touch it one after another (each waits in pdl_wait for the
  // grid before it to complete).
  Buffer route_ticket_;
};

}  // namespace

std::unique_ptr<Ops> make_cuda_ops(int device, int lane) {
  ROTOR_CHECK(device >= 0 && device < cuda_device_count(), "cuda:{}: no such GPU ({} present)", device,
              cuda_device_count());
  ROTOR_CHECK(lane >= 0, "cuda:{}: lane {}", device, lane);
  return std::make_unique<CudaOps>(device, lane);
}

std::unique_ptr<Ops> make_cuda_ops_with_env(std::initializer_list<std::pair<const char*, const char*>> env,
                                            int device, int lane) {
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  for (const auto& [var, value] : env) {
    const char* prev = std::getenv(var);
    saved.emplace_back(var, prev ? std::optional<std::string>(prev) : std::nullopt);
    setenv(var, value, 1);
  }
  std::unique_ptr<Ops> ops = make_cuda_ops(device, lane);
  for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
    if (it->second)
      setenv(it->first.c_str(), it->second->c_str(), 1);
    else
      unsetenv(it->first.c_str());
  }
  return ops;
}

cudaStream_t cuda_stream(Ops& ops) {
  Ops* o = &ops;
  while (o->wrapped() != nullptr) o = o->wrapped();
  auto* c = dynamic_cast<CudaOps*>(o);
  ROTOR_CHECK(c != nullptr, "not a CUDA backend");
  return c->stream();
}

}  // namespace rotor
