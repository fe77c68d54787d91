// bench/decode_step.cpp — rotor_bench_decode: decode steps of a dummy-weight model at a
// given batch and context, timed end to end through ModelRunner::execute (metadata upload,
// forward, logits, sampling, read-back), with the memory-roofline step time beside it. With
// --tensor-parallel-size N the model is split over N ranks (engine/runner/rank_set.h: GPUs 0..N-1, or
// all on GPU 0 with ROTOR_SAME_DEVICE_RANKS=1), each step run on every rank's thread.
// --kv-cache-dtype fp8 runs an e4m3 KV cache (scales of 1; the roofline counts its bytes).
//   fake context (default): the KV cache is filled with random values and each sequence
//     starts at --context cached tokens, so a 48-layer 16k-context step needs no prefill;
//   --prefill: the prompts are prefilled for real (--chunk tokens per step), timing prefill.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "bench/decode_rows.h"
#include "bench/roofline.h"
#include "comm/placement.h"
#include "core/check.h"
#include "engine/runner/kv_cache.h"
#include "engine/runner/rank_set.h"
#include "engine/runner/model_runner.h"
#include "engine/runner/rank_runners.h"
#include "model/load_model.h"

namespace rotor {
namespace {

struct Args {
  std::string model;
  std::string device = "auto";
  int num_layers = 0;
  int batch = 32;
  int context = 16384;
  int steps = 32;
  int warmup = 3;
  bool graphs = true;
  bool prefill = false;
  int chunk = 16384;
  int block_size = 16;
  int tp = 1;
  bool ep = false;
  std::string quantization = "auto";
  std::string kv_cache_dtype = "auto";
};

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int run(const Args& a) {
  RankSet ranks({a.device, a.tp, a.ep, false});
  const int world = ranks.world_size();
  Ops* ops = &ranks.ops(0);
  // The copy ceiling first, while the GPU still has room for its 2 x 2 GiB (on rank 0's
  // thread, its device current).
  double copy_bw = 0;
  if (!ops->device().is_cpu())
    ranks.threads().run([&](int r) {
      if (r == 0) copy_bw = measure_copy_bandwidth(*ops);
    });
  LoadOptions lo;
  lo.model = a.model;
  lo.load_format = "dummy";
  lo.num_layers = a.num_layers;
  lo.quantization = a.quantization;
  double t0 = now();
  RankSet::Loaded m = ranks.load(lo);
  ranks.threads().run([&](int r) { ranks.ops(r).synchronize(); });
  const ModelConfig c = m.config;
  const bool w8a8 = m.weights[0].quantization == "w8a8";
  std::printf("model: %d layers, hidden %d, %d experts (top %d), %s dummy weights made in %.2f s\n", c.num_layers,
              c.hidden_size, c.num_experts, c.num_experts_per_tok, w8a8 ? "W8A8" : "bf16", now() - t0);
  int gpus = 0;  // distinct GPUs the ranks run on
  if (world > 1) {
    std::string where;
    for (int r = 0; r < world; ++r) where += (r ? ", " : "") + ranks.where(r);
    std::printf("tensor parallel %d%s: ranks on %s\n", world, a.ep ? " (expert parallel)" : "", where.c_str());
  }
  for (int r = 0; r < world; ++r)
    if (!ranks.ops(r).device().is_cpu() && ranks.lane(r) == 0) ++gpus;

  const int B = a.batch, bs = a.block_size;
  const int max_len = a.context + a.warmup + a.steps + 1;
  const int blocks_per_seq = (max_len + bs - 1) / bs;
  RunnerOptions ro;
  ro.max_num_seqs = B;
  ro.block_size = bs;
  ro.max_model_len = max_len;
  ro.max_num_tokens = a.prefill ? std::max(B, std::min(a.chunk, a.context)) : B;
  ro.num_blocks = B * blocks_per_seq;
  ro.cuda_graphs = a.graphs && !ops->device().is_cpu();
  ro.kv_cache_dtype = parse_kv_cache_dtype(a.kv_cache_dtype);
  const bool fp8 = ro.kv_cache_dtype == KvCacheDtype::Fp8E4M3;
  const double kv_elem_bytes = fp8 ? 1.0 : 2.0;
  t0 = now();
  std::vector<std::unique_ptr<ModelRunner>> runners =
      build_rank_runners(c, ranks.resources(std::move(m.weights)), ro, ranks.threads());
  // One step (or a fill) on every rank at once.
  const auto each_rank = [&](const std::function<void(ModelRunner&, Ops&)>& f) {
    ranks.threads().run([&](int r) { f(*runners[r], ranks.ops(r)); });
  };
  each_rank([](ModelRunner&, Ops& o) { o.synchronize(); });
  std::printf("runner: %d KV blocks (%s), graphs %s, set up in %.2f s\n", ro.num_blocks,
              fp8 ? "fp8 e4m3" : "bf16", ro.cuda_graphs ? "on" : "off", now() - t0);

  std::mt19937 g(7);
  std::vector<std::vector<int32_t>> tables(B), tokens(B);
  for (int s = 0; s < B; ++s) {
    tables[s].resize(blocks_per_seq);
    std::iota(tables[s].begin(), tables[s].end(), s * blocks_per_seq);
    tokens[s].resize(a.context + 1);
    for (auto& t : tokens[s]) t = static_cast<int32_t>(g() % c.vocab_size);
  }
  double prefill_s = 0;
  if (a.prefill) {
    t0 = now();
    for (int s = 0; s < B; ++s)
      for (int done = 0; done < a.context;) {
        const int n = std::min(a.chunk, a.context - done);
        SeqWork w;
        w.tokens = std::span<const int32_t>(tokens[s]).subspan(done, n);
        w.num_computed = done;
        w.block_table = tables[s];
        w.sample = done + n == a.context;
        w.params.temperature = 0.0f;
        each_rank([&](ModelRunner& runner, Ops&) { runner.execute(std::span(&w, 1)); });
        done += n;
      }
    prefill_s = now() - t0;
    std::printf("prefill: %d x %d tokens in %.2f s: %.0f tok/s\n", B, a.context, prefill_s,
                double(B) * a.context / prefill_s);
  } else {
    const uint64_t seed = g();
    each_rank([&](ModelRunner& runner, Ops& o) {
      uint64_t s = seed;
      for (const LayerKVCache& kv : runner.kv_cache()) {
        o.fill_random(kv.k, ++s, 0.0f, 1.0f);
        o.fill_random(kv.v, ++s, 0.0f, 1.0f);
      }
    });
  }

  std::vector<double> times;
  for (int step = 0; step < a.warmup + a.steps; ++step) {
    const DecodeRows rows = decode_rows(tables, a.context + step, c.vocab_size, g);
    const double s0 = now();
    each_rank([&](ModelRunner& runner, Ops&) { runner.execute(rows.work); });
    if (step >= a.warmup) times.push_back(now() - s0);
  }
  std::sort(times.begin(), times.end());
  const double step_s = times[times.size() / 2];

  // Roofline (bench/roofline.h): bytes a step must read over all ranks, spread over the
  // distinct GPUs the ranks run on.
  const double ctx = a.context + a.warmup + a.steps / 2.0;
  const DecodeBytes db = decode_step_bytes(c, {B, ctx, world, w8a8 ? 1.0 : 2.0, kv_elem_bytes});
  const double bytes = db.total(), expert_bytes = db.experts, dense_bytes = db.dense, kv_bytes = db.kv;
  const double touched = db.touched, E = c.num_experts;
  std::printf("decode step (batch %d, context %.0f): median %.3f ms, p10 %.3f ms, p90 %.3f ms over %zu steps\n", B, ctx,
              step_s * 1e3, times[times.size() / 10] * 1e3, times[times.size() * 9 / 10] * 1e3, times.size());
  std::printf("  %.1f tok/s per sequence, %.0f tok/s in all\n", 1.0 / step_s, B / step_s);
  std::printf("  bytes/step %.2f GB (experts %.2f [%.1f of %.0f touched/layer], dense %.2f, KV %.2f): %.2f TB/s "
              "achieved\n",
              bytes / 1e9, expert_bytes / 1e9, touched, E, dense_bytes / 1e9, kv_bytes / 1e9, bytes / step_s / 1e12);
  if (!ops->device().is_cpu()) {
    const double bw = copy_bw * gpus;
    std::printf("  copy ceiling %.2f TB/s (%d GPU%s): roofline step %.3f ms (%.1f tok/s per sequence); achieved %.0f%% "
                "of it\n",
                bw / 1e12, gpus, gpus > 1 ? "s" : "", bytes / bw * 1e3, bw / bytes, 100.0 * (bytes / bw) / step_s);
  }
  std::printf("RESULT layers=%d batch=%d context=%d graphs=%d tp=%d ep=%d w8a8=%d kv=%s splits=%s step_ms=%.3f "
              "tok_s_per_seq=%.2f prefill_tok_s=%.0f\n",
              c.num_layers, B, a.context, ro.cuda_graphs ? 1 : 0, world, a.ep ? 1 : 0, w8a8 ? 1 : 0, fp8 ? "fp8" : "bf16",
              runners[0]->plans_decode_splits() ? "plan" : "fixed", step_s * 1e3, 1.0 / step_s,
              prefill_s > 0 ? double(B) * a.context / prefill_s : 0.0);
  return 0;
}

}  // namespace
}  // namespace rotor

int main(int argc, char** argv) {
  rotor::load_kernels_eagerly_for_shared_gpus();  // before anything starts CUDA
  rotor::Args a;
  CLI::App app{"rotor_bench_decode: decode-step time of a dummy-weight model"};
  app.add_option("model", a.model, "config.json (dummy weights)")->required();
  app.add_option("--device", a.device)->capture_default_str();
  app.add_option("--num-layers", a.num_layers, "first N layers only (0 = all)");
  app.add_option("--batch", a.batch)->capture_default_str();
  app.add_option("--context", a.context, "cached tokens per sequence at the first step")->capture_default_str();
  app.add_option("--steps", a.steps)->capture_default_str();
  app.add_option("--warmup", a.warmup)->capture_default_str();
  app.add_option("--graphs", a.graphs, "CUDA graphs for decode (1/0)")->capture_default_str();
  app.add_flag("--prefill", a.prefill, "prefill the prompts for real (and time it)");
  app.add_option("--chunk", a.chunk, "prefill tokens per step")->capture_default_str();
  app.add_option("--block-size", a.block_size, "tokens per KV cache block")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  app.add_option("--tensor-parallel-size,--tp", a.tp,
                 "ranks (GPUs 0..N-1; ROTOR_SAME_DEVICE_RANKS=1: all on GPU 0, a stream each)")
      ->capture_default_str();
  app.add_flag("--enable-expert-parallel", a.ep, "whole experts per rank");
  app.add_option("--quantization", a.quantization, "dummy weights: auto (bf16) or w8a8")->capture_default_str();
  app.add_option("--kv-cache-dtype", a.kv_cache_dtype, "auto | bfloat16 | fp8 | fp8_e4m3 (scales of 1)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return rotor::run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
