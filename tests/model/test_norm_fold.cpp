// tests/model/test_norm_fold.cpp — the model's side of a norm folded into the GEMM after it
// (LinearFront::norm_linears and norm_route, Residual: the stream moving between the model's
// two buffers) on the CPU, which folds nothing itself. FoldingOps, the CPU's ops with every fold
// taken and run as the ops it stands for (the stream copied into the other buffer, then
// rms_norm or rms_norm_quant updating it there, then the GEMM or the router), gives the plain
// CPU's bits on every fixture (bf16 and W8A8, q/k/v stacked so that one GEMM follows the input
// norm): every prompt's last logits and argmaxes and greedy tokens, prompts of 1 and 2 tokens
// among them, prefilled whole and in chunks of 3, each prompt alone and all in one batch.
// Steps of up to kMaxFoldRows rows fold both norms of every layer (and layer 0's without a
// partial); longer ones keep the stream in the first buffer, and the final norm reads whichever
// buffer holds it. A wrong buffer anywhere drops a layer's output from the stream.
#include <gtest/gtest.h>

#include <cstring>

#include "comm/communicator.h"
#include "kernels/backend.h"
#include "model/load_model.h"
#include "model/stack_qkv.h"
#include "tests/support/fixture_util.h"
#include "tests/support/offline_generate.h"
#include "tests/support/reference.h"

namespace rotor {
namespace {
namespace fs = std::filesystem;

// The CPU's ops, folding every norm Ops::folds_norm is asked about (the fold's results are
// those of the ops it stands for, so the model must give the plain CPU's bits).
class FoldingOps final : public Ops {
 public:
  explicit FoldingOps(Ops& inner) : inner_(inner) {}
  int linear_folds = 0, route_folds = 0, stream_moves = 0;

  Device device() const override { return inner_.device(); }
  DType act_dtype() const override { return inner_.act_dtype(); }
  Allocator& allocator() override { return inner_.allocator(); }
  void synchronize() override { inner_.synchronize(); }
  DecodeSplitParams decode_split_params(int q_heads, int kv_heads, int head_dim, bool kv_fp8) const override {
    return inner_.decode_split_params(q_heads, kv_heads, head_dim, kv_fp8);
  }

 protected:
  bool folds_norm_impl(const NormInput&, const LinearWeight&) override { return true; }
  void norm_linear_impl(const NormInput& n, const LinearWeight& w, const Tensor& out) override {
    ++linear_folds;
    if (w.quantized()) {
      OwnedTensor xq(allocator(), DType::I8, n.h_in.shape());
      inner_.rms_norm_quant(input(n), n.w, n.bias, n.eps, w.input_scale, w.input_offset, xq, stream(n));
      inner_.gemm_w8a8(xq, Tensor{}, w, out);
      return;
    }
    const Tensor x = rows(n);
    inner_.rms_norm(input(n), n.w, n.bias, n.eps, x, stream(n));
    inner_.gemm(x, w, out);
  }
  void norm_route_experts_impl(const NormInput& n, const LinearWeight& router, int top_k, bool renormalize,
                               const Tensor& logits, const Tensor& topk_weights, const Tensor& topk_ids) override {
    ++route_folds;
    const Tensor x = rows(n);
    inner_.rms_norm(input(n), n.w, n.bias, n.eps, x, stream(n));
    inner_.route_experts(x, router, top_k, renormalize, logits, topk_weights, topk_ids);
  }

  void embed_impl(const Tensor& ids, const Tensor& table, const Tensor& out) override {
    inner_.embed(ids, table, out);
  }
  void embed_shard_impl(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) override {
    inner_.embed_shard(ids, table, first, out);
  }
  void rms_norm_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
                     const Tensor& residual) override {
    inner_.rms_norm(x, w, bias, eps, out, residual);
  }
  void qk_norm_rope_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                         const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                         const Tensor& q_out) override {
    inner_.qk_norm_rope(qkv, q_norm_w, k_norm_w, eps, rope_cos_sin, batch, cache, q_out);
  }
  void attention_decode_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                             const Tensor& out) override {
    inner_.attention_decode(q, cache, batch, scale, out);
  }
  void attention_prefill_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                              const Tensor& out) override {
    inner_.attention_prefill(q, cache, batch, scale, out);
  }
  void gemm_impl(const Tensor& x, const LinearWeight& w, const Tensor& out) override { inner_.gemm(x, w, out); }
  void quant_static_impl(const Tensor& x, float scale, float offset, const Tensor& out) override {
    inner_.quant_static(x, scale, offset, out);
  }
  void quant_per_token_impl(const Tensor& x, const Tensor& out, const Tensor& scales) override {
    inner_.quant_per_token(x, out, scales);
  }
  void rms_norm_quant_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale, float offset,
                           const Tensor& out, const Tensor& residual) override {
    inner_.rms_norm_quant(x, w, bias, eps, scale, offset, out, residual);
  }
  void gemm_w8a8_impl(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) override {
    inner_.gemm_w8a8(x_q, x_scales, w, out);
  }
  void linear_w8a8_static_impl(const Tensor& x, const LinearWeight& w, const Tensor& xq, const Tensor& out) override {
    inner_.linear_w8a8_static(x, w, xq, out);
  }
  void moe_route_impl(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
                      const Tensor& topk_ids) override {
    inner_.moe_route(logits, top_k, renormalize, topk_weights, topk_ids);
  }
  void route_experts_impl(const Tensor& x, const LinearWeight& router, int top_k, bool renormalize,
                          const Tensor& logits, const Tensor& topk_weights, const Tensor& topk_ids) override {
    inner_.route_experts(x, router, top_k, renormalize, logits, topk_weights, topk_ids);
  }
  void moe_experts_impl(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids,
                        const ExpertWeights& experts, const Tensor& out) override {
    inner_.moe_experts(x, topk_weights, topk_ids, experts, out);
  }
  void fill_random_impl(const Tensor& t, uint64_t seed, float mean, float std) override {
    inner_.fill_random(t, seed, mean, std);
  }
  void sample_impl(const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids) override {
    inner_.sample(logits, params, out_ids);
  }
  void apply_penalties_impl(const Tensor& logits, const PenaltyBatch& penalties) override {
    inner_.apply_penalties(logits, penalties);
  }
  void mask_tokens_impl(const Tensor& logits, const Tensor& ids, const Tensor& start) override {
    inner_.mask_tokens(logits, ids, start);
  }
  void apply_token_bitmask_impl(const Tensor& logits, const Tensor& bitmask, const Tensor& rows) override {
    inner_.apply_token_bitmask(logits, bitmask, rows);
  }
  void logprobs_impl(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob,
                     const Tensor& token_rank, const Tensor& top_ids, const Tensor& top_logprobs) override {
    inner_.logprobs(logits, token_ids, token_logprob, token_rank, top_ids, top_logprobs);
  }
  void copy_tokens_impl(const Tensor& src, const Tensor& src_index, const Tensor& dst,
                        const Tensor& dst_index) override {
    inner_.copy_tokens(src, src_index, dst, dst_index);
  }

 private:
  // rms_norm's x: the partial added to the stream, or the stream itself.
  static const Tensor& input(const NormInput& n) { return n.partial.defined() ? n.partial : n.h_in; }
  // rms_norm's residual: with a partial, h_out holding a copy of h_in (the norm adds to it there),
  // else none.
  Tensor stream(const NormInput& n) {
    if (!n.partial.defined()) return Tensor{};
    ++stream_moves;
    const size_t bytes = static_cast<size_t>(n.h_in.size(1)) * dtype_size(n.h_in.dtype());
    for (int64_t t = 0; t < n.h_in.size(0); ++t) std::memcpy(n.h_out.row_ptr(t), n.h_in.row_ptr(t), bytes);
    return n.h_out;
  }
  // The normalised rows: x_out, or rows of our own.
  Tensor rows(const NormInput& n) {
    if (n.x_out.defined()) return n.x_out;
    x_ = OwnedTensor(allocator(), act_dtype(), n.h_in.shape());
    return x_.tensor;
  }

  Ops& inner_;
  OwnedTensor x_;
};

std::vector<std::string> all_fixtures() {
  std::vector<std::string> out = test::bf16_fixtures();
  for (const std::string& d : test::w8a8_fixture_dirs()) out.push_back(d);
  return out;
}

class NormFold : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Ops> cpu = make_cpu_ops();
};

TEST_P(NormFold, FoldingBackendGivesThePlainBits) {
  const fs::path dir = GetParam();
  const test::Reference ref = test::read_reference(dir);
  auto comm = make_local_comm();
  LoadOptions lo;
  lo.model = dir;
  LoadedModel m = load_model(lo, *cpu);
  ASSERT_EQ(stack_qkv(m.weights, cpu->allocator()), m.config.num_layers);
  std::vector<std::vector<int32_t>> prompts = ref.ids;
  prompts.push_back({ref.ids[0].front()});
  prompts.push_back({ref.ids[0].back(), ref.ids[0].front()});
  const std::vector<OfflineRequest> reqs = test::greedy_prompt_requests(prompts, 5);
  FoldingOps folding(*cpu);
  for (const int chunk : {0, 3}) {
    for (const bool batched : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "chunk " << chunk << (batched ? " batched" : " alone"));
      std::vector<OfflineResult> plain, folded;
      for (size_t i = 0; i < reqs.size(); ++i) {
        if (batched && i > 0) break;
        const std::span<const OfflineRequest> these = batched ? std::span(reqs) : std::span(reqs).subspan(i, 1);
        ModelRunner a(*cpu, *comm, m.config, m.weights.views(), offline_runner_options(these));
        ModelRunner b(folding, *comm, m.config, m.weights.views(), offline_runner_options(these));
        for (OfflineResult& r : generate_offline(a, these, chunk, m.config.eos_token_ids)) plain.push_back(r);
        for (OfflineResult& r : generate_offline(b, these, chunk, m.config.eos_token_ids)) folded.push_back(r);
      }
      ASSERT_EQ(folded.size(), reqs.size());
      for (size_t i = 0; i < reqs.size(); ++i) {
        SCOPED_TRACE(::testing::Message() << "prompt " << i);
        EXPECT_EQ(folded[i].prompt_logits, plain[i].prompt_logits);  // bit for bit
        EXPECT_EQ(folded[i].prompt_argmax, plain[i].prompt_argmax);
        EXPECT_EQ(folded[i].output, plain[i].output);
      }
    }
  }
  // Both norms of every layer folded at some steps, the stream moved.
  EXPECT_GT(folding.linear_folds, 0);
  EXPECT_GT(folding.route_folds, 0);
  EXPECT_GT(folding.stream_moves, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NormFold, ::testing::ValuesIn(all_fixtures()),
                         [](const auto& i) { return test::fixture_name(i.param); });

}  // namespace
}  // namespace rotor
