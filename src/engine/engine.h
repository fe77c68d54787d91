// engine/engine.h — the Engine: submit requests (prompt token ids + SamplingParams), read each
// one's output stream, abort; a step loop on its own thread drives the scheduler and the
// runner (vLLM v1's EngineCore, in-process). With async scheduling the scheduling and input
// preparation of step N+1 overlap the execution of step N; only sampled ids are waited for.
// With a prefill lane a second worker computes prompts, one chunk at a time, beside the
// decode steps; the loop applies each lane's results as they complete.
//
// Thread safety: submit, abort, stats and limits may be called from any thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/sampling_params.h"
#include "core/token_constraint.h"
#include "engine/engine_stats.h"
#include "engine/request_handle.h"

namespace rotor {

class Ops;
class Communicator;
class StepRunner;
class Scheduler;
struct ModelConfig;
struct ModelWeights;
class EngineInbox;
class RunnerFactory;
class EngineMetrics;

// The engine's flags (vLLM's names; `rotor generate` and `rotor serve` share them).
struct EngineConfig {
  int block_size = 16;                 // --block-size: tokens per KV block
  int max_num_seqs = 256;              // --max-num-seqs: running requests at most
  int max_num_batched_tokens = 8192;   // --max-num-batched-tokens: tokens per step
  int max_model_len = 0;               // --max-model-len: prompt + output; 0 = the model's
  bool enable_prefix_caching = true;   // --[no-]enable-prefix-caching
  bool async_scheduling = false;       // --async-scheduling
  int64_t kv_cache_memory_bytes = 0;   // --kv-cache-memory-bytes: KV cache size; 0 = from the device
  // --kv-cache-dtype: auto | bfloat16 | fp8 | fp8_e4m3 (RunnerOptions::kv_cache_dtype; e4m3 with
  // per-layer scales); --calculate-kv-scales (fp8 only).
  std::string kv_cache_dtype = "auto";
  bool calculate_kv_scales = false;
  float gpu_memory_utilization = 0.9f; // --gpu-memory-utilization (GPU sizing, see kv_cache_sizing.h)
  int max_logprobs = 20;               // --max-logprobs: largest SamplingParams::logprobs (and prompt_logprobs)
  bool priority_scheduling = false;    // --scheduling-policy priority (else fcfs)
  bool cuda_graphs = false;            // decode steps replay CUDA graphs (GPU; cudagraph_mode FULL_DECODE_ONLY)
  std::vector<int> cuda_graph_sizes;   // cudagraph_capture_sizes; empty: the runner's default
  // --prefill-lane-sms: prompts go through a prefill lane beside the decode steps
  // (docs/prefill-lane.md), the decode lane on this many SMs of each GPU; 0 = no lane. The
  // caller builds the lane's ranks (RankSet::beside) and hands them to the RunnerFactory.
  int prefill_lane_sms = 0;
  // --prefill-lane-backlog: with the lane, prompts also go into decode steps (as without it,
  // on the whole budget) while at least this many wait, so a burst is not held to the lane's
  // pace; 0 = only the lane computes prompts.
  int prefill_lane_backlog = 2;
};

struct EngineRequest {
  std::vector<int32_t> prompt_token_ids;
  SamplingParams params;
  // Debugging aid (`rotor generate --output json`): the argmax after every prompt token.
  // Such a request never reads the prefix cache, so every prompt position is computed.
  bool prompt_argmax = false;
  int priority = 0;                    // lower is served first; non-zero needs priority_scheduling
  // Structured outputs: each sampled token must be one the constraint allows (a grammar
  // matcher; it is fed the request's tokens in order on the runner's launching thread).
  std::shared_ptr<TokenConstraint> constraint;
};

// What the engine was built with (for the server's validation and /v1/models).
struct EngineLimits {
  int max_model_len = 0;
  int vocab_size = 0;
  int max_logprobs = 0;
  int num_blocks = 0;
  int block_size = 0;
  int max_num_seqs = 0;
  int max_num_batched_tokens = 0;
  bool priority_scheduling = false;
  std::vector<int32_t> eos_token_ids;
};

class Engine {
 public:
  // Builds the step runner from the factory (every rank's ModelRunner, the KV cache sized by
  // config, see kv_cache_sizing.h, to the least any rank can hold) and starts.
  static std::unique_ptr<Engine> create(const EngineConfig& config, RunnerFactory& factory);
  // The same over one rank.
  static std::unique_ptr<Engine> create(const EngineConfig& config, Ops& ops, Communicator& comm,
                                        const ModelConfig& model, ModelWeights weights);
  // Over any StepRunner whose KV cache has `num_blocks` blocks of config.block_size tokens;
  // limits.max_model_len, vocab_size and eos_token_ids describe the model. With
  // `prefill_runner` (on the same KV cache) prompts are computed there, one chunk at a time
  // beside the runner's decode-only steps.
  Engine(const EngineConfig& config, EngineLimits limits, std::unique_ptr<StepRunner> runner,
         std::unique_ptr<StepRunner> prefill_runner = nullptr);
  ~Engine();  // stops the loop; unfinished requests end with FinishReason::Abort
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates and queues a request. Bad input (empty prompt, unknown token ids, a prompt
  // that leaves no room within max_model_len, out-of-range sampling parameters) throws
  // rotor::Error with a one-line message fit for an HTTP 400; so does a failed engine.
  RequestHandle submit(EngineRequest request);
  // Cancels a request by id (no-op when it already finished).
  void abort(uint64_t request_id);

  EngineStats stats() const;
  // Why the engine failed ("" while it runs): a step's error (under tensor parallelism, the
  // first failing rank's). A failed engine has ended every request and takes no more.
  std::string failure() const;
  const EngineLimits& limits() const { return limits_; }
  const EngineConfig& config() const { return config_; }

 private:
  void loop();

  EngineConfig config_;
  EngineLimits limits_;
  std::unique_ptr<StepRunner> runner_;
  std::unique_ptr<StepRunner> prefill_runner_;  // destroyed before runner_ (it uses its KV cache)
  std::unique_ptr<Scheduler> scheduler_;  // the loop thread's after construction
  std::shared_ptr<EngineInbox> inbox_;
  std::atomic<uint64_t> next_id_{1};
  uint64_t seed_base_;                    // random streams of unseeded requests
  std::unique_ptr<EngineMetrics> metrics_;  // the loop's statistics; stats() reads a snapshot
  std::thread thread_;
};

}  // namespace rotor
