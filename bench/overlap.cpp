// bench/overlap.cpp — rotor_bench_overlap: does a prefill chunk running beside the decode steps
// (a second stream on the same GPU) cost the decoding sequences less than a prefill inside a
// step? Today a step carries the decodes and a prefill chunk together, so every decoding
// sequence waits out the whole chunk (docs/gpu.md: ~3.4 ms of the seed workload's mean TPOT on
// an H100). Two runners of one dummy-weight model on one GPU: a decode lane (lane 0: batch B at
// --context cached tokens, graphs) and a prefill lane (lane 1: one --prefill-tokens chunk,
// eager), each with its own weights, KV cache and stream (priorities --decode-priority and
// --prefill-priority, CUDA's order: negative is more urgent; --decode-sms N puts the decode lane
// on N SMs and the prefill lane on the rest, as CUDA green contexts, the "alone" times then
// within those SMs too, and the losses counted against --reference-decode-ms and
// --reference-prefill-ms, a whole-GPU run's times). It times decode steps alone, the
// chunk alone, then both at once (the chunk --repeats times on its thread while the main thread
// runs decode steps), and prints what a decoding sequence loses per chunk either way.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <numeric>
#include <random>
#include <thread>

#include "bench/decode_rows.h"
#include "comm/communicator.h"
#include "core/check.h"
#include "engine/runner/kv_cache.h"
#include "engine/runner/model_runner.h"
#include "kernels/cuda/cuda_ops.h"
#include "model/load_model.h"

namespace rotor {
namespace {

struct Args {
  std::string model;
  int num_layers = 8;
  int batch = 32;
  int context = 16384;
  int prefill_tokens = 16384;
  int steps = 20;
  int repeats = 3;
  int decode_priority = 0;
  int prefill_priority = 0;
  int decode_sms = 0;
  double reference_decode_ms = 0;   // the whole GPU's step and chunk, from a run without partitions
  double reference_prefill_ms = 0;
  std::string quantization = "auto";
  std::string kv_cache_dtype = "auto";
};

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// One lane's runner: its backend, communicator (one rank), weights and KV cache.
struct Lane {
  std::unique_ptr<Ops> ops;
  std::unique_ptr<Communicator> comm;
  std::unique_ptr<ModelRunner> runner;
};

Lane make_lane(const Args& a, int lane, const RunnerOptions& ro, ModelConfig* config) {
  Lane l;
  l.ops = make_cuda_ops(0, lane);
  l.comm = make_local_comm();
  LoadOptions lo;
  lo.model = a.model;
  lo.load_format = "dummy";
  lo.num_layers = a.num_layers;
  lo.quantization = a.quantization;
  LoadedModel m = load_model(lo, *l.ops);
  *config = m.config;
  l.runner = std::make_unique<ModelRunner>(*l.ops, *l.comm, m.config, std::move(m.weights), ro);
  l.ops->synchronize();
  return l;
}

int run(const Args& a) {
  ROTOR_CHECK(cuda_device_count() > 0, "rotor_bench_overlap needs a GPU");
  set_cuda_lane_priority(0, 0, a.decode_priority);
  set_cuda_lane_priority(0, 1, a.prefill_priority);
  std::vector<int> sms;  // each lane's SMs when they are split (green contexts)
  if (a.decode_sms > 0) {
    const int ask[2] = {a.decode_sms, 0};
    sms = set_cuda_lane_sms(0, 0, ask);
  }
  const int B = a.batch, bs = 16, P = a.prefill_tokens;
  const int decode_len = a.context + a.steps + 4096;  // room for the steps beside the chunks
  const int decode_blocks = (decode_len + bs - 1) / bs;

  RunnerOptions rd;
  rd.max_num_seqs = B;
  rd.max_num_tokens = B;
  rd.block_size = bs;
  rd.max_model_len = decode_len;
  rd.num_blocks = B * decode_blocks;
  rd.cuda_graphs = true;
  rd.kv_cache_dtype = parse_kv_cache_dtype(a.kv_cache_dtype);
  RunnerOptions rp = rd;
  rp.max_num_seqs = 1;
  rp.max_num_tokens = P;
  rp.max_model_len = P + 1;
  rp.num_blocks = (P + bs) / bs;
  rp.cuda_graphs = false;

  ModelConfig c;
  const double t0 = now();
  Lane dec = make_lane(a, 0, rd, &c);
  Lane pre = make_lane(a, 1, rp, &c);
  std::printf("model: %d layers, hidden %d, %s weights, %s KV cache; two lanes set up in %.1f s\n", c.num_layers,
              c.hidden_size, a.quantization == "w8a8" ? "W8A8" : "bf16", a.kv_cache_dtype.c_str(), now() - t0);
  std::printf("priorities: decode lane %d, prefill lane %d (CUDA's order: lower is more urgent)\n", a.decode_priority,
              a.prefill_priority);
  if (!sms.empty()) std::printf("SMs: decode lane %d, prefill lane %d (green contexts)\n", sms[0], sms[1]);

  // The decode lane's sequences start at --context cached tokens of random K and V.
  uint64_t seed = 11;
  for (const LayerKVCache& kv : dec.runner->kv_cache()) {
    dec.ops->fill_random(kv.k, ++seed, 0.0f, 1.0f);
    dec.ops->fill_random(kv.v, ++seed, 0.0f, 1.0f);
  }
  dec.ops->synchronize();
  std::mt19937 g(7);
  std::vector<std::vector<int32_t>> tables(B);
  for (int s = 0; s < B; ++s) {
    tables[s].resize(decode_blocks);
    std::iota(tables[s].begin(), tables[s].end(), s * decode_blocks);
  }
  int done = 0;  // decode steps so far: each sequence's context grows by one a step
  const auto decode_step = [&] {
    ROTOR_CHECK(a.context + done + 1 <= decode_len,
                "overlap: the decode lane ran past its {} tokens beside the chunks: fewer --repeats", decode_len);
    const DecodeRows rows = decode_rows(tables, a.context + done, c.vocab_size, g);
    const double s0 = now();
    dec.runner->execute(rows.work);
    ++done;
    return now() - s0;
  };

  std::vector<int32_t> prompt(P);
  for (auto& t : prompt) t = static_cast<int32_t>(g() % c.vocab_size);
  std::vector<int32_t> prompt_table((P + bs) / bs);
  std::iota(prompt_table.begin(), prompt_table.end(), 0);
  const auto prefill = [&] {
    SeqWork w;
    w.tokens = prompt;
    w.num_computed = 0;
    w.block_table = prompt_table;
    w.sample = true;
    w.params.temperature = 0.0f;
    const double s0 = now();
    pre.runner->execute(std::span(&w, 1));
    return now() - s0;
  };

  // Alone: decode steps, then the chunk.
  for (int i = 0; i < 3; ++i) decode_step();
  std::vector<double> d_alone;
  for (int i = 0; i < a.steps; ++i) d_alone.push_back(decode_step());
  prefill();
  std::vector<double> p_alone;
  for (int i = 0; i < a.repeats; ++i) p_alone.push_back(prefill());

  // Together: the chunks back to back on their thread, decode steps until they end. A failure
  // on either side waits for the other, then reaches main's one-line error.
  std::vector<double> p_both, d_both;
  std::atomic<bool> prefilling{true};
  std::exception_ptr prefill_failed;
  std::thread t([&] {
    try {
      for (int i = 0; i < a.repeats; ++i) p_both.push_back(prefill());
    } catch (...) {
      prefill_failed = std::current_exception();
    }
    prefilling = false;
  });
  try {
    while (prefilling) d_both.push_back(decode_step());
  } catch (...) {
    t.join();
    throw;
  }
  t.join();
  if (prefill_failed) std::rethrow_exception(prefill_failed);

  const double td = median(d_alone), tp = median(p_alone);
  const double td2 = mean(d_both), tp2 = median(p_both);
  // The losses count against the whole GPU's times: the reference run's where given (a lane on
  // part of the SMs is slower alone too), else this run's.
  const double td_ref = a.reference_decode_ms > 0 ? a.reference_decode_ms / 1e3 : td;
  const double tp_ref = a.reference_prefill_ms > 0 ? a.reference_prefill_ms / 1e3 : tp;
  std::printf("decode step alone: median %.3f ms over %zu steps (batch %d, %d-token context)\n", td * 1e3,
              d_alone.size(), B, a.context);
  std::printf("prefill chunk alone: median %.1f ms (%d tokens, %.0f tok/s)\n", tp * 1e3, P, P / tp);
  std::printf("both at once: decode step mean %.3f ms, median %.3f (%zu steps), prefill chunk median %.1f ms\n",
              td2 * 1e3, median(d_both) * 1e3, d_both.size(), tp2 * 1e3);
  // What a decoding sequence loses to one chunk: inside a step it waits the whole chunk; beside
  // the steps, each step the chunk's time spans is slower by td2 - td_ref.
  const double lost_inside = tp_ref, lost_beside = tp2 * (1.0 - td_ref / td2);
  if (a.reference_decode_ms > 0 || a.reference_prefill_ms > 0)
    std::printf("whole GPU (reference run): decode step %.3f ms, prefill chunk %.1f ms\n", td_ref * 1e3, tp_ref * 1e3);
  std::printf("decode time lost per chunk: inside a step %.1f ms, beside the steps %.1f ms (%.2fx less); "
              "the chunk itself %.2fx slower\n",
              lost_inside * 1e3, lost_beside * 1e3, lost_beside > 0 ? lost_inside / lost_beside : 0.0, tp2 / tp_ref);
  std::printf("OVERLAP layers=%d batch=%d context=%d prefill=%d w8a8=%d kv=%s prio=%d/%d sms=%d/%d decode_ms=%.3f "
              "prefill_ms=%.1f decode_both_ms=%.3f prefill_both_ms=%.1f lost_inside_ms=%.1f lost_beside_ms=%.1f\n",
              c.num_layers, B, a.context, P, a.quantization == "w8a8" ? 1 : 0, a.kv_cache_dtype.c_str(),
              a.decode_priority, a.prefill_priority, sms.empty() ? 0 : sms[0], sms.empty() ? 0 : sms[1], td * 1e3,
              tp * 1e3, td2 * 1e3, tp2 * 1e3, lost_inside * 1e3, lost_beside * 1e3);
  return 0;
}

}  // namespace
}  // namespace rotor

int main(int argc, char** argv) {
  setenv("CUDA_MODULE_LOADING", "EAGER", 0);  // no kernel's first launch waits for the other lane
  rotor::Args a;
  CLI::App app{"rotor_bench_overlap: a prefill chunk beside decode steps on one GPU, against inside a step"};
  app.add_option("model", a.model, "config.json (dummy weights)")->required();
  app.add_option("--num-layers", a.num_layers, "first N layers only (0 = all)")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  app.add_option("--batch", a.batch, "decoding sequences")->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--context", a.context, "their cached tokens")->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--prefill-tokens", a.prefill_tokens, "the chunk's tokens (one sequence)")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
  app.add_option("--steps", a.steps, "decode steps timed alone")->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--repeats", a.repeats, "chunks timed alone, and run beside the steps")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
  app.add_option("--decode-priority", a.decode_priority, "the decode lane's stream priority")->capture_default_str();
  app.add_option("--prefill-priority", a.prefill_priority, "the prefill lane's")->capture_default_str();
  app.add_option("--decode-sms", a.decode_sms,
                 "the decode lane on this many SMs and the prefill lane on the rest (green contexts; 0: both on all)")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  app.add_option("--reference-decode-ms", a.reference_decode_ms,
                 "the whole GPU's decode step, from a run without --decode-sms (0: this run's)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--reference-prefill-ms", a.reference_prefill_ms, "the whole GPU's chunk (0: this run's)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--quantization", a.quantization, "dummy weights: auto (bf16) or w8a8")->capture_default_str();
  app.add_option("--kv-cache-dtype", a.kv_cache_dtype, "auto | bfloat16 | fp8 (scales of 1)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return rotor::run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
