// apps/engine_args.cpp — the engine flags.
#include "apps/engine_args.h"

namespace rotor::app {

void add_engine_options(CLI::App* c, EngineConfig& cfg) {
  c->add_option("--block-size", cfg.block_size, "Tokens per KV cache block")->capture_default_str();
  c->add_option("--max-num-seqs", cfg.max_num_seqs, "Most requests running at once")->capture_default_str();
  c->add_option("--max-num-batched-tokens", cfg.max_num_batched_tokens,
                "Most tokens per step (prefill chunks and decodes together)")
      ->capture_default_str();
  c->add_option("--max-model-len", cfg.max_model_len, "Longest prompt + output (default: the model's)");
  c->add_flag("--enable-prefix-caching,!--no-enable-prefix-caching", cfg.enable_prefix_caching,
              "Reuse the KV cache of shared prompt prefixes (on by default)");
  c->add_flag("--async-scheduling", cfg.async_scheduling,
              "Schedule and prepare step N+1 while step N executes");
  c->add_option("--kv-cache-memory-bytes", cfg.kv_cache_memory_bytes,
                "KV cache size in bytes (default: 4 GiB on the CPU; from --gpu-memory-utilization on a GPU)");
  c->add_option("--gpu-memory-utilization", cfg.gpu_memory_utilization,
                "Fraction of GPU memory for weights, activations and KV cache")
      ->capture_default_str();
  c->add_option("--max-logprobs", cfg.max_logprobs, "Largest number of log-probs a request may ask for")
      ->capture_default_str();
}

}  // namespace rotor::app
