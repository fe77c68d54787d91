// apps/engine_args.cpp — the engine flags.
#include "apps/engine_args.h"

#include <limits>

#include "apps/vllm_flags.h"
#include "core/check.h"
#include "engine/runner/kv_cache.h"

namespace rotor::app {

void add_engine_options(CLI::App* c, EngineConfig& cfg) {
  c->add_option("--block-size", cfg.block_size, "Tokens per KV cache block")->capture_default_str();
  c->add_option("--max-num-seqs", cfg.max_num_seqs, "Most requests running at once")->capture_default_str();
  // vLLM reads these three as human-readable integers: 32k = 32000, 32K = 32768.
  const auto int_flag = [](const char* flag, int64_t v) {
    ROTOR_CHECK(v <= std::numeric_limits<int>::max(), "{}: {} is too large", flag, v);
    return static_cast<int>(v);
  };
  c->add_option_function<std::string>(
       "--max-num-batched-tokens",
       [&cfg, int_flag](const std::string& v) {
         cfg.max_num_batched_tokens = int_flag("--max-num-batched-tokens", parse_human_int("--max-num-batched-tokens", v));
       },
       "Most tokens per step (prefill chunks and decodes together); 16k = 16000, 16K = 16384")
      ->default_str(std::to_string(cfg.max_num_batched_tokens));
  c->add_option_function<std::string>(
      "--max-model-len",
      [&cfg, int_flag](const std::string& v) {
        cfg.max_model_len = int_flag("--max-model-len", parse_human_int("--max-model-len", v));
      },
      "Longest prompt + output (default: the model's); 32k = 32000, 32K = 32768");
  c->add_flag("--enable-prefix-caching,!--no-enable-prefix-caching", cfg.enable_prefix_caching,
              "Reuse the KV cache of shared prompt prefixes (on by default)");
  c->add_flag("--async-scheduling", cfg.async_scheduling,
              "Schedule and prepare step N+1 while step N executes");
  c->add_option("--prefill-lane-sms", cfg.prefill_lane_sms,
                "Compute prompts in a prefill lane beside the decode steps, the decode lane on this many SMs of "
                "each GPU and the prefill lane on the rest (0: off; on the CPU any number turns it on)")
      ->capture_default_str();
  c->add_option("--prefill-lane-backlog", cfg.prefill_lane_backlog,
                "With --prefill-lane-sms: prompts also go into decode steps while at least this many wait (a burst "
                "is not held to the lane's pace); 0: only the lane computes prompts")
      ->capture_default_str();
  c->add_option_function<std::string>(
      "--kv-cache-memory-bytes",
      [&cfg](const std::string& v) { cfg.kv_cache_memory_bytes = parse_human_int("--kv-cache-memory-bytes", v); },
      "KV cache size in bytes, e.g. 4G (default: 4 GiB on the CPU; from --gpu-memory-utilization on a GPU)");
  c->add_option("--gpu-memory-utilization", cfg.gpu_memory_utilization,
                "Fraction of GPU memory for weights, activations and KV cache")
      ->capture_default_str();
  c->add_option("--max-logprobs", cfg.max_logprobs, "Largest number of log-probs a request may ask for")
      ->capture_default_str();
  c->add_option_function<std::string>(
       "--kv-cache-dtype",
       [&cfg](const std::string& v) {
         cfg.kv_cache_dtype = v == "bf16" ? "bfloat16" : v;
         parse_kv_cache_dtype(cfg.kv_cache_dtype);  // a one-line error for anything else
       },
       "auto | bfloat16 | fp8 | fp8_e4m3 (e4m3 with per-layer scales: the checkpoint's, else 1)")
      ->default_str(cfg.kv_cache_dtype);
  c->add_flag("--calculate-kv-scales", cfg.calculate_kv_scales,
              "fp8 KV cache: compute each layer's K and V scales from the first prefill (max|k| / 200, max|v| / 100)");
}

}  // namespace rotor::app
