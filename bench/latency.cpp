// bench/latency.cpp — rotor_bench_latency: where a decode step's time goes at small batch
// (issue 21). For a dummy-weight model (bf16 or W8A8), each batch (default 1, 2, 4, 8, 32) at
// one context and each decode split mode (the fixed 2,048-token splits, a plan per step):
//   step: the median decode step through ModelRunner with its decode graph (as
//     rotor_bench_decode: metadata upload, graph replay, sampled ids read back);
//   kernels: the same step with OpProfiler's timing events captured around each op of the
//     graph, median over the steps, summed per op (and weight shape) over the layers;
//   roofline: BENCHMARK.md's bytes of the step (bench/roofline.h) at the measured copy
//     bandwidth, and its share of the step.
// A mode with "+prefetch" runs the same with the L2 weight prefetch of each layer's q/k/v and
// o_proj weights (model/weight_prefetch.h), so its columns stand beside the plain mode's.
// Prints a table per split mode (kernels by rows, batches by columns) and a LATENCY line per
// (batch, mode) for scripts/gpu-check.sh's summary (its attention_us: the decode steps' one op of
// QK-norm + RoPE and attention, qk_norm_rope_attention_decode, fused or not). The timed steps of
// the plain runner are the CUDA profiler's range (cudaProfilerStart/Stop), so `ncu
// --profile-from-start off` sees only decode-step kernels, not the weight fill or the graph
// capture. With --prefill-chunk N it times a prefill instead (issue 14's int8 prefill): one
// sequence of --context tokens in chunks of N, end to end and per op (eager timing events
// around every op of the last repetition, summed per op and weight shape), one table; its timed
// repetitions are the profiler's range. CUDA only.
#include <CLI/CLI.hpp>
#include <cuda_profiler_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>

#include "bench/op_profiler.h"
#include "bench/roofline.h"
#include "comm/communicator.h"
#include "core/check.h"
#include "engine/runner/model_runner.h"
#include "kernels/cuda/cuda_ops.h"
#include "model/load_model.h"

namespace rotor {
namespace {

struct Args {
  std::string model;
  int num_layers = 0;
  std::string quantization = "auto";
  std::vector<int> batches{1, 2, 4, 8, 32};
  int context = 16384;
  int steps = 30;
  int warmup = 3;
  std::vector<std::string> splits{"fixed", "plan"};
  int split_min = 0;
  bool eager_profile = false;
  int prefill_chunk = 0;  // > 0: profile a prefill of --context tokens in chunks of this many
};

// One (batch, split mode) measurement.
struct Column {
  int batch = 0;
  std::string splits;
  std::string skipped;  // why, when it did not run
  double step_ms = 0, roofline_ms = 0;
  int plan_items = 0, plan_chunk = 0;  // the first timed step's split plan (splits "plan")
  std::vector<std::pair<std::string, double>> kernels_us;  // median per step, by label
};

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

class Bench {
 public:
  Bench(const Args& a, Ops& ops, Communicator& comm, const LoadedModel& m)
      : a_(a), ops_(ops), comm_(comm), m_(m), blocks_per_seq_((max_len() + kBlock - 1) / kBlock) {}

  Column measure(int B, const std::string& splits, double bandwidth) {
    Column col;
    col.batch = B;
    col.splits = splits;
    const ModelConfig& c = m_.config;
    const double ctx = a_.context + a_.warmup + a_.steps / 2.0;
    const bool w8a8 = m_.weights.quantization == "w8a8";
    col.roofline_ms = roofline_ms(decode_step_bytes(c, {B, ctx, 1, w8a8 ? 1.0 : 2.0, 2.0}).total(), bandwidth);
    size_t free_bytes = 0, total = 0;
    ops_.memory_info(&free_bytes, &total);
    const double kv = double(ModelRunner::kv_block_bytes(c, m_.weights.shard, kBlock, DType::BF16)) * B * blocks_per_seq_;
    if (kv > 0.85 * free_bytes) {
      char why[160];
      std::snprintf(why, sizeof why, "KV cache %.1f GB, %.1f GB free", kv / 1e9, free_bytes / 1e9);
      col.skipped = why;
      return col;
    }
    RunnerOptions ro;
    ro.max_num_seqs = B;
    ro.max_model_len = max_len();
    ro.max_num_tokens = B;
    ro.block_size = kBlock;
    ro.num_blocks = B * blocks_per_seq_;
    ro.cuda_graphs = true;
    ro.graph_batch_sizes = {B};
    using SplitMode = DecodeSplitOptions::Mode;
    ro.decode_splits = {splits.starts_with("plan") ? SplitMode::Plan : SplitMode::Fixed, a_.split_min};
    // "+prefetch": the L2 weight prefetch of q/k/v and o_proj, whole, at every batch measured.
    if (splits.ends_with("+prefetch")) ro.weight_prefetch = {1.0, 1.0, B};
    if (ro.decode_splits.mode == SplitMode::Plan) {  // what the runner will plan at the first timed step
      DecodeSplitParams p = ops_.decode_split_params(c.num_heads, c.num_kv_heads, c.head_dim, false);
      if (a_.split_min > 0) p.min_chunk = a_.split_min;
      const std::vector<int32_t> lens(B, a_.context + a_.warmup + 1);
      const DecodePlan plan = plan_decode_splits(lens, B, p);
      col.plan_items = plan.items;
      col.plan_chunk = plan.chunk;
    }
    {
      ModelRunner runner(ops_, comm_, c, m_.weights.views(), ro);
      fill_kv(runner);
      std::vector<double> t;
      for (int step = 0; step < a_.warmup + a_.steps; ++step) {
        if (step == a_.warmup) cudaProfilerStart();
        const double t0 = now();
        runner.execute(work(B, step));
        if (step >= a_.warmup) t.push_back(now() - t0);
      }
      cudaProfilerStop();
      col.step_ms = median(t) * 1e3;
    }
    // The per-kernel split: the same decode graph with timing events around each op.
    OpProfiler prof(ops_);
    RunnerOptions rp = ro;
    rp.cuda_graphs = !a_.eager_profile;
    // Capture: the ops of the decode graph, labelled once as the runner captures it.
    prof.set_mode(a_.eager_profile ? OpProfiler::Mode::Off : OpProfiler::Mode::Capture);
    ModelRunner runner(prof, comm_, c, m_.weights.views(), rp);
    prof.set_mode(OpProfiler::Mode::Off);
    fill_kv(runner);
    std::map<std::string, std::vector<double>> samples;
    std::vector<std::string> order;
    for (int step = 0; step < a_.warmup + a_.steps; ++step) {
      if (a_.eager_profile) {
        prof.clear();
        prof.set_mode(OpProfiler::Mode::Eager);
      }
      runner.execute(work(B, step));
      prof.set_mode(OpProfiler::Mode::Off);
      if (step < a_.warmup) continue;
      for (const auto& [label, us] : prof.times_us()) {
        if (samples[label].empty()) order.push_back(label);
        samples[label].push_back(us);
      }
    }
    ROTOR_CHECK(!order.empty(), "latency: no op was timed (profiler events not in the decode graph?)");
    for (const std::string& label : order) col.kernels_us.emplace_back(label, median(samples[label]));
    return col;
  }

  // One sequence's prefill of --context tokens in chunks of `chunk`: the median wall time of
  // --steps repetitions (each from an empty cache; the last chunk samples, which waits for the
  // GPU), then one more with every op timed. Column.step_ms is the whole prefill.
  Column prefill(int chunk) {
    Column col;
    col.splits = "prefill";
    const ModelConfig& c = m_.config;
    RunnerOptions ro;
    ro.max_num_seqs = 1;
    ro.max_model_len = max_len();
    ro.max_num_tokens = std::min(chunk, a_.context);
    ro.block_size = kBlock;
    ro.num_blocks = blocks_per_seq_;
    ro.cuda_graphs = false;
    OpProfiler prof(ops_);
    ModelRunner runner(prof, comm_, c, m_.weights.views(), ro);
    std::vector<int32_t> table(blocks_per_seq_), tokens(a_.context);
    std::iota(table.begin(), table.end(), 0);
    for (auto& t : tokens) t = static_cast<int32_t>(g_() % c.vocab_size);
    const auto run_prefill = [&] {
      for (int done = 0; done < a_.context;) {
        SeqWork w;
        w.tokens = std::span<const int32_t>(tokens).subspan(done, std::min(chunk, a_.context - done));
        w.num_computed = done;
        w.block_table = table;
        done += static_cast<int>(w.tokens.size());
        w.sample = done == a_.context;
        w.params.temperature = 0.0f;
        runner.execute(std::span(&w, 1));
      }
    };
    std::vector<double> t;
    for (int rep = 0; rep < a_.warmup + a_.steps; ++rep) {
      if (rep == a_.warmup) cudaProfilerStart();
      const double t0 = now();
      run_prefill();
      if (rep >= a_.warmup) t.push_back(now() - t0);
    }
    cudaProfilerStop();
    col.step_ms = median(t) * 1e3;
    prof.clear();
    prof.set_mode(OpProfiler::Mode::Eager);
    run_prefill();
    prof.set_mode(OpProfiler::Mode::Off);
    ops_.synchronize();
    col.kernels_us = prof.times_us();
    return col;
  }

 private:
  static constexpr int kBlock = 16;
  int max_len() const { return a_.context + a_.warmup + a_.steps + 1; }

  void fill_kv(const ModelRunner& runner) {
    uint64_t seed = 17;
    for (const LayerKVCache& kv : runner.kv_cache()) {
      ops_.fill_random(kv.k, ++seed, 0.0f, 1.0f);
      ops_.fill_random(kv.v, ++seed, 0.0f, 1.0f);
    }
  }

  // Decode step `step` of B sequences at context + step cached tokens, random next tokens.
  std::vector<SeqWork> work(int B, int step) {
    tables_.resize(B);
    next_.resize(B);
    std::vector<SeqWork> w(B);
    for (int s = 0; s < B; ++s) {
      tables_[s].resize(blocks_per_seq_);
      std::iota(tables_[s].begin(), tables_[s].end(), s * blocks_per_seq_);
      next_[s] = static_cast<int32_t>(g_() % m_.config.vocab_size);
      w[s].tokens = std::span<const int32_t>(&next_[s], 1);
      w[s].num_computed = a_.context + step;
      w[s].block_table = tables_[s];
      w[s].sample = true;
      w[s].params.temperature = 0.0f;
    }
    return w;
  }

  const Args& a_;
  Ops& ops_;
  Communicator& comm_;
  const LoadedModel& m_;
  int blocks_per_seq_;
  std::mt19937 g_{7};
  std::vector<std::vector<int32_t>> tables_;
  std::vector<int32_t> next_;
};

void print_table(const std::string& splits, const std::vector<Column>& cols) {
  std::vector<const Column*> run;
  for (const Column& c : cols)
    if (c.splits == splits) run.push_back(&c);
  if (run.empty()) return;
  std::vector<std::string> labels;
  for (const Column* c : run)
    for (const auto& [label, us] : c->kernels_us)
      if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
  std::printf("\ndecode splits: %s\n| us per step |", splits.c_str());
  for (const Column* c : run) std::printf(" batch %d |", c->batch);
  std::printf("\n| --- |");
  for (size_t i = 0; i < run.size(); ++i) std::printf(" --- |");
  std::printf("\n");
  for (const std::string& label : labels) {
    std::printf("| %s |", label.c_str());
    for (const Column* c : run) {
      const auto it = std::find_if(c->kernels_us.begin(), c->kernels_us.end(),
                                   [&](const auto& k) { return k.first == label; });
      if (it == c->kernels_us.end()) std::printf(" — |");
      else std::printf(" %.1f |", it->second);
    }
    std::printf("\n");
  }
  const auto row = [&](const char* name, auto value) {
    std::printf("| %s |", name);
    for (const Column* c : run) {
      if (!c->skipped.empty()) std::printf(" skipped: %s |", c->skipped.c_str());
      else value(*c);
    }
    std::printf("\n");
  };
  row("kernels, summed (ms)", [](const Column& c) {
    double us = 0;
    for (const auto& k : c.kernels_us) us += k.second;
    std::printf(" %.3f |", us / 1e3);
  });
  row("**step (ms, graph)**", [](const Column& c) { std::printf(" **%.3f** |", c.step_ms); });
  row("roofline (ms)", [](const Column& c) { std::printf(" %.3f |", c.roofline_ms); });
  row("of the roofline", [](const Column& c) { std::printf(" %.0f%% |", 100.0 * c.roofline_ms / c.step_ms); });
}

// The prefill's ops, longest first (ms, share of the ops' sum; GEMM labels carry their weight
// shapes), its wall time, and a PREFILL line for scripts/gpu-check.sh's summary.
void print_prefill(const std::string& name, int layers, bool w8a8, const Args& a, Column col) {
  double sum = 0;
  for (const auto& k : col.kernels_us) sum += k.second;
  std::sort(col.kernels_us.begin(), col.kernels_us.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  std::printf("\nprefill of %d tokens in chunks of %d, %s, %d layers (ops timed one by one, eager)\n| op | ms | share |\n"
              "| --- | --- | --- |\n",
              a.context, a.prefill_chunk, w8a8 ? "W8A8" : "bf16", layers);
  for (const auto& [label, us] : col.kernels_us) std::printf("| %s | %.3f | %.1f%% |\n", label.c_str(), us / 1e3, 100.0 * us / sum);
  std::printf("| ops, summed | %.3f | |\n| **prefill (wall, median)** | **%.3f** | |\n", sum / 1e3, col.step_ms);
  std::printf("PREFILL model=%s layers=%d w8a8=%d tokens=%d chunk=%d ms=%.3f tok_s=%.0f ops_ms=%.3f\n", name.c_str(),
              layers, w8a8, a.context, a.prefill_chunk, col.step_ms, a.context / (col.step_ms / 1e3), sum / 1e3);
}

int run(const Args& a) {
  std::unique_ptr<Ops> ops = make_cuda_ops(0);
  std::unique_ptr<Communicator> comm = make_local_comm();
  const double bw = measure_copy_bandwidth(*ops);  // before the weights, while its 4 GiB fit
  LoadOptions lo;
  lo.model = a.model;
  lo.load_format = "dummy";
  lo.quantization = a.quantization;
  lo.num_layers = a.num_layers;
  const double t0 = now();
  const LoadedModel m = load_model(lo, *ops);
  ops->synchronize();
  const ModelConfig& c = m.config;
  const bool w8a8 = m.weights.quantization == "w8a8";
  const std::string name = std::filesystem::path(a.model).parent_path().filename().string();
  std::printf("model %s: %d layers, %d q / %d KV heads, %d experts (top %d, I %d), %s dummy weights in %.1f s\n",
              name.c_str(), c.num_layers, c.num_heads, c.num_kv_heads, c.num_experts, c.num_experts_per_tok,
              c.moe_intermediate_size, w8a8 ? "W8A8" : "bf16", now() - t0);
  std::printf("copy ceiling %.3f TB/s; context %d (+ %d warm-up, %d timed steps)\n", bw / 1e12, a.context, a.warmup,
              a.steps);
  std::fflush(stdout);
  Bench bench(a, *ops, *comm, m);
  if (a.prefill_chunk > 0) {
    print_prefill(name, c.num_layers, w8a8, a, bench.prefill(a.prefill_chunk));
    return 0;
  }
  std::vector<Column> cols;
  for (int B : a.batches)
    for (const std::string& splits : a.splits) {
      cols.push_back(bench.measure(B, splits, bw));
      const Column& col = cols.back();
      double attention = 0;  // a step of decodes only runs QK-norm + RoPE and attention as one op
      for (const auto& [label, us] : col.kernels_us)
        if (label == "attention_decode" || label == "qk_norm_rope+attention_decode") attention += us;
      if (!col.skipped.empty()) {
        std::printf("LATENCY model=%s layers=%d w8a8=%d batch=%d splits=%s skipped (%s)\n", name.c_str(), c.num_layers,
                    w8a8, B, splits.c_str(), col.skipped.c_str());
      } else {
        std::printf("LATENCY model=%s layers=%d w8a8=%d batch=%d splits=%s step_ms=%.3f roofline_ms=%.3f "
                    "of_roofline=%.0f%% attention_us=%.1f",
                    name.c_str(), c.num_layers, w8a8, B, splits.c_str(), col.step_ms, col.roofline_ms,
                    100.0 * col.roofline_ms / col.step_ms, attention);
        if (col.plan_items > 0) std::printf(" plan_items=%d plan_chunk=%d", col.plan_items, col.plan_chunk);
        std::printf("\n");
      }
      std::fflush(stdout);
    }
  for (const std::string& splits : a.splits) print_table(splits, cols);
  return 0;
}

}  // namespace
}  // namespace rotor

int main(int argc, char** argv) {
  rotor::Args a;
  CLI::App app{"rotor_bench_latency: a decode step per kernel at small batch, beside its roofline"};
  app.add_option("model", a.model, "config.json (dummy weights)")->required();
  app.add_option("--num-layers", a.num_layers, "first N layers only (0 = all)");
  app.add_option("--quantization", a.quantization, "dummy weights: auto (bf16) or w8a8")->capture_default_str();
  app.add_option("--batches", a.batches, "batch sizes")->delimiter(',')->capture_default_str();
  app.add_option("--context", a.context, "cached tokens per sequence at the first step")->capture_default_str();
  app.add_option("--steps", a.steps)->capture_default_str();
  app.add_option("--warmup", a.warmup)->capture_default_str();
  app.add_option("--splits", a.splits,
                 "decode split modes: fixed, plan; fixed+prefetch, plan+prefetch with the L2 weight prefetch")
      ->delimiter(',')
      ->check(CLI::IsMember({"fixed", "plan", "fixed+prefetch", "plan+prefetch"}))
      ->capture_default_str();
  app.add_option("--split-min", a.split_min, "shortest planned split in tokens (0 = the backend's)");
  app.add_flag("--eager-profile", a.eager_profile,
               "time the ops of eager steps instead of the decode graph's (includes launch gaps)");
  app.add_option("--prefill-chunk", a.prefill_chunk,
                 "profile a prefill of --context tokens in chunks of this many instead of decode steps")
      ->check(CLI::Range(1, 1 << 20));
  CLI11_PARSE(app, argc, argv);
  try {
    return rotor::run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
