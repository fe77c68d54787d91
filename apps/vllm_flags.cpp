// apps/vllm_flags.cpp — the table of vLLM flags rotor rejects (what each would ask for, what
// rotor does instead), vLLM's short aliases, and human-readable integers.
#include "apps/vllm_flags.h"

#include <cmath>
#include <regex>

#include "core/check.h"

namespace rotor::app {
namespace {

enum class Kind { Flag, Value, Values };  // a boolean (with its --no- form), one value, several

struct Rejected {
  const char* names;     // CLI11 names, e.g. "--nnodes,-n"
  Kind kind;
  const char* accepted;  // values that ask for what rotor does anyway ("a|b"), or nullptr
  const char* instead;
};

constexpr const char* kParallel = "rotor runs one model replica per server (--tensor-parallel-size splits it over "
                                  "GPUs; for data parallelism run one server per replica behind a load balancer)";
constexpr const char* kExperts = "rotor's expert parallelism (--enable-expert-parallel) holds whole experts per rank "
                                 "and sums their outputs in the all-reduce (no all-to-all, micro-batches or expert "
                                 "load balancing)";
constexpr const char* kMedia = "rotor serves a text-only model (no images, audio or video)";
constexpr const char* kLora = "rotor serves the base model only (no LoRA adapters)";
constexpr const char* kTracing = "rotor exports Prometheus metrics at /metrics and logs a stats line every 10 s "
                                 "(no tracing or extra metrics)";
constexpr const char* kPartial = "rotor chunks prefills by --max-num-batched-tokens alone";
constexpr const char* kPreempt = "rotor preempts by recomputation and keeps the KV cache on the device (no swap or "
                                 "offload)";
constexpr const char* kOneProcess = "rotor runs its engine inside the server process (no workers, Ray or fault "
                                    "tolerance machinery)";
constexpr const char* kPlugins = "rotor loads no plugins or custom classes";
constexpr const char* kGraphs = "give cudagraph_capture_sizes inside --compilation-config";

const Rejected kRejected[] = {
    // ModelConfig
    {"--runner", Kind::Value, "auto|generate", "rotor runs text generation only"},
    {"--convert", Kind::Value, "auto|none", "rotor converts no model to pooling or classification"},
    {"--task", Kind::Value, "auto|generate", "rotor generates text only (no embedding, classify or score tasks)"},
    {"--hf-config-path", Kind::Value, nullptr, "rotor reads the model directory's config.json (change fields with "
                                               "--hf-overrides)"},
    {"--allowed-local-media-path", Kind::Value, nullptr, kMedia},
    {"--allowed-media-domains", Kind::Values, nullptr, kMedia},
    {"--code-revision", Kind::Value, nullptr, "rotor runs no remote code (--revision picks the model's revision)"},
    {"--tokenizer-revision", Kind::Value, nullptr, "rotor reads the tokenizer of --revision's snapshot, or "
                                                   "--tokenizer DIR"},
    {"--allow-deprecated-quantization", Kind::Flag, nullptr, "rotor loads bf16 or W8A8 (--quantization ascend) "
                                                             "checkpoints"},
    {"--enable-return-routed-experts", Kind::Flag, nullptr, "rotor does not return the experts tokens were routed to"},
    {"--logprobs-mode", Kind::Value, nullptr, "rotor's log-probs mode is not configurable"},
    {"--skip-tokenizer-init", Kind::Flag, nullptr, "rotor always loads the tokenizer (requests may still send token "
                                                   "ids)"},
    {"--enable-prompt-embeds", Kind::Flag, nullptr, "rotor takes prompts as text or token ids, not embeddings"},
    {"--config-format", Kind::Value, "auto|hf", "rotor reads Hugging Face config.json only"},
    {"--pooler-config", Kind::Value, nullptr, "rotor has no pooling models"},
    {"--logits-processor-pattern", Kind::Value, nullptr, "rotor runs no custom logits processors"},
    {"--logits-processors", Kind::Values, nullptr, "rotor runs no custom logits processors"},
    {"--override-generation-config", Kind::Value, nullptr, "rotor takes sampling defaults from generation_config.json "
                                                           "(--generation-config auto|vllm|DIR)"},
    {"--enable-sleep-mode", Kind::Flag, nullptr, "rotor keeps its weights on the GPU (no sleep mode)"},
    {"--model-impl", Kind::Value, "auto|vllm", "rotor has its own Qwen3-MoE implementation (no transformers "
                                               "backend)"},
    {"--override-attention-dtype", Kind::Value, nullptr, "rotor's attention runs in bf16 with f32 accumulation"},
    {"--io-processor-plugin", Kind::Value, nullptr, kPlugins},
    {"--rope-theta", Kind::Value, nullptr, "give --hf-overrides '{\"rope_theta\": ...}'"},
    {"--max-seq-len-to-capture", Kind::Value, nullptr, kGraphs},
    {"--guided-decoding-backend", Kind::Value, nullptr, "rotor has no guided decoding"},
    {"--enable-reasoning", Kind::Flag, nullptr, "give --reasoning-parser qwen3 (which turns reasoning parsing on)"},
    // LoadConfig
    {"--safetensors-load-strategy", Kind::Value, nullptr, "rotor memory-maps safetensors files (and copies them to "
                                                          "the GPU)"},
    {"--model-loader-extra-config", Kind::Value, nullptr, "rotor's loader has no extra options"},
    {"--ignore-patterns", Kind::Values, nullptr, "rotor downloads only what it loads (config, tokenizer, safetensors)"},
    {"--pt-load-map-location", Kind::Value, nullptr, "rotor loads safetensors only (no PyTorch .bin/.pt files)"},
    {"--attention-backend", Kind::Value, nullptr, "rotor has one attention implementation per device"},
    {"--reasoning-parser-plugin", Kind::Value, nullptr, kPlugins},
    // ParallelConfig
    {"--decode-context-parallel-size", Kind::Value, "1", "rotor has no context parallelism"},
    {"--dcp-kv-cache-interleave-size", Kind::Value, nullptr, "rotor has no context parallelism"},
    {"--cp-kv-cache-interleave-size", Kind::Value, nullptr, "rotor has no context parallelism"},
    {"--prefill-context-parallel-size", Kind::Value, "1", "rotor has no context parallelism"},
    {"--data-parallel-rank", Kind::Value, nullptr, kParallel},
    {"--data-parallel-start-rank", Kind::Value, nullptr, kParallel},
    {"--data-parallel-size-local", Kind::Value, nullptr, kParallel},
    {"--data-parallel-address", Kind::Value, nullptr, kParallel},
    {"--data-parallel-rpc-port", Kind::Value, nullptr, kParallel},
    {"--data-parallel-backend", Kind::Value, nullptr, kParallel},
    {"--data-parallel-hybrid-lb", Kind::Flag, nullptr, kParallel},
    {"--data-parallel-external-lb", Kind::Flag, nullptr, kParallel},
    {"--all2all-backend", Kind::Value, nullptr, kExperts},
    {"--enable-dbo", Kind::Flag, nullptr, kExperts},
    {"--ubatch-size", Kind::Value, nullptr, kExperts},
    {"--dbo-decode-token-threshold", Kind::Value, nullptr, kExperts},
    {"--dbo-prefill-token-threshold", Kind::Value, nullptr, kExperts},
    {"--disable-nccl-for-dp-synchronization", Kind::Flag, nullptr, kParallel},
    {"--enable-eplb", Kind::Flag, nullptr, kExperts},
    {"--eplb-config", Kind::Value, nullptr, kExperts},
    {"--expert-placement-strategy", Kind::Value, nullptr, kExperts},
    {"--max-parallel-loading-workers", Kind::Value, nullptr, "rotor loads the weights in one pass (mmap)"},
    {"--ray-workers-use-nsight", Kind::Flag, nullptr, kOneProcess},
    {"--worker-cls", Kind::Value, "auto", kPlugins},
    {"--worker-extension-cls", Kind::Value, nullptr, kPlugins},
    // CacheConfig
    {"--swap-space", Kind::Value, nullptr, kPreempt},
    {"--num-gpu-blocks-override", Kind::Value, nullptr, "rotor sizes the KV cache by --gpu-memory-utilization or "
                                                        "--kv-cache-memory-bytes"},
    {"--prefix-caching-hash-algo", Kind::Value, nullptr, "rotor's prefix-cache hash is not configurable"},
    {"--cpu-offload-gb", Kind::Value, "0", "rotor keeps every weight on the GPU (no CPU offload)"},
    {"--kv-sharing-fast-prefill", Kind::Flag, nullptr, "rotor has no cross-layer KV sharing"},
    {"--mamba-cache-dtype", Kind::Value, nullptr, "rotor serves Qwen3-MoE (no Mamba layers)"},
    {"--mamba-ssm-cache-dtype", Kind::Value, nullptr, "rotor serves Qwen3-MoE (no Mamba layers)"},
    {"--mamba-block-size", Kind::Value, nullptr, "rotor serves Qwen3-MoE (no Mamba layers)"},
    {"--mamba-cache-mode", Kind::Value, nullptr, "rotor serves Qwen3-MoE (no Mamba layers)"},
    {"--kv-offloading-size", Kind::Value, nullptr, kPreempt},
    {"--kv-offloading-backend", Kind::Value, nullptr, kPreempt},
    {"--preemption-mode", Kind::Value, "recompute", kPreempt},
    {"--num-lookahead-slots", Kind::Value, "0", "rotor has no speculative decoding"},
    // MultiModalConfig
    {"--limit-mm-per-prompt", Kind::Value, nullptr, kMedia},
    {"--enable-mm-embeds", Kind::Flag, nullptr, kMedia},
    {"--media-io-kwargs", Kind::Value, nullptr, kMedia},
    {"--mm-processor-kwargs", Kind::Value, nullptr, kMedia},
    {"--mm-processor-cache-gb", Kind::Value, nullptr, kMedia},
    {"--mm-processor-cache-type", Kind::Value, nullptr, kMedia},
    {"--mm-shm-cache-max-object-size-mb", Kind::Value, nullptr, kMedia},
    {"--mm-encoder-only", Kind::Flag, nullptr, kMedia},
    {"--mm-encoder-tp-mode", Kind::Value, nullptr, kMedia},
    {"--mm-encoder-attn-backend", Kind::Value, nullptr, kMedia},
    {"--interleave-mm-strings", Kind::Flag, nullptr, kMedia},
    {"--skip-mm-profiling", Kind::Flag, nullptr, kMedia},
    {"--video-pruning-rate", Kind::Value, nullptr, kMedia},
    {"--disable-chunked-mm-input", Kind::Flag, nullptr, kMedia},
    {"--disable-mm-preprocessor-cache", Kind::Flag, nullptr, kMedia},
    // LoRAConfig
    {"--enable-lora", Kind::Flag, nullptr, kLora},
    {"--max-loras", Kind::Value, nullptr, kLora},
    {"--max-lora-rank", Kind::Value, nullptr, kLora},
    {"--lora-dtype", Kind::Value, nullptr, kLora},
    {"--lora-extra-vocab-size", Kind::Value, nullptr, kLora},
    {"--enable-tower-connector-lora", Kind::Flag, nullptr, kLora},
    {"--max-cpu-loras", Kind::Value, nullptr, kLora},
    {"--fully-sharded-loras", Kind::Flag, nullptr, kLora},
    {"--default-mm-loras", Kind::Value, nullptr, kLora},
    {"--specialize-active-lora", Kind::Flag, nullptr, kLora},
    {"--lora-modules", Kind::Values, nullptr, kLora},
    // ObservabilityConfig
    {"--show-hidden-metrics-for-version", Kind::Value, nullptr, kTracing},
    {"--otlp-traces-endpoint", Kind::Value, nullptr, kTracing},
    {"--collect-detailed-traces", Kind::Value, nullptr, kTracing},
    {"--kv-cache-metrics", Kind::Flag, nullptr, kTracing},
    {"--kv-cache-metrics-sample", Kind::Value, nullptr, kTracing},
    {"--cudagraph-metrics", Kind::Flag, nullptr, kTracing},
    {"--enable-layerwise-nvtx-tracing", Kind::Flag, nullptr, kTracing},
    {"--enable-mfu-metrics", Kind::Flag, nullptr, kTracing},
    {"--enable-logging-iteration-details", Kind::Flag, nullptr, kTracing},
    {"--aggregate-engine-logging", Kind::Flag, nullptr, "rotor has one engine: its stats line is the aggregate"},
    // SchedulerConfig
    {"--max-num-partial-prefills", Kind::Value, "1", kPartial},
    {"--max-long-partial-prefills", Kind::Value, "1", kPartial},
    {"--long-prefill-token-threshold", Kind::Value, "0", kPartial},
    {"--scheduler-cls", Kind::Value, nullptr, "rotor has one scheduler (vLLM v1's)"},
    {"--disable-hybrid-kv-cache-manager", Kind::Flag, nullptr, "rotor has one KV cache manager (one attention kind)"},
    {"--stream-interval", Kind::Value, "1", "rotor streams every token as it is sampled"},
    {"--num-scheduler-steps", Kind::Value, "1", "rotor schedules every step"},
    {"--scheduler-delay-factor", Kind::Value, "0|0.0", "rotor schedules waiting requests at once"},
    {"--disable-async-output-proc", Kind::Flag, nullptr, "rotor's output processing is not configurable"},
    {"--use-v2-block-manager", Kind::Flag, nullptr, "rotor has one block manager"},
    // CompilationConfig and VllmConfig
    {"--cudagraph-capture-sizes", Kind::Values, nullptr, kGraphs},
    {"--max-cudagraph-capture-size", Kind::Value, nullptr, kGraphs},
    {"--speculative-config", Kind::Value, nullptr, "rotor has no speculative decoding"},
    {"--kv-transfer-config", Kind::Value, nullptr, "rotor has no KV transfer (no disaggregated prefill)"},
    {"--kv-events-config", Kind::Value, nullptr, "rotor publishes no KV cache events"},
    {"--ec-transfer-config", Kind::Value, nullptr, "rotor has no encoder-cache transfer"},
    {"--attention-config", Kind::Value, nullptr, "rotor has one attention implementation per device"},
    {"--structured-outputs-config", Kind::Value, nullptr, "rotor has no structured outputs (guided decoding)"},
    {"--profiler-config", Kind::Value, nullptr, "rotor has no built-in profiler (run it under nsys)"},
    {"--afd-config", Kind::Value, nullptr, "rotor does not split attention and FFN across devices"},
    {"--optimization-level", Kind::Value, nullptr, "rotor has no compilation levels (--compilation-config "
                                                   "cudagraph_mode)"},
    {"--weight-transfer-config", Kind::Value, nullptr, "rotor does not take weight updates"},
    // FaultToleranceConfig
    {"--enable-fault-tolerance", Kind::Flag, nullptr, kOneProcess},
    {"--shutdown-on-fault-tolerance-failure", Kind::Flag, nullptr, kOneProcess},
    {"--engine-recovery-timeout", Kind::Value, nullptr, kOneProcess},
    {"--internal-fault-report-port", Kind::Value, nullptr, kOneProcess},
    {"--external-fault-notify-port", Kind::Value, nullptr, kOneProcess},
    {"--gloo-comm-timeout", Kind::Value, nullptr, kOneProcess},
    // The OpenAI frontend and `vllm serve` itself
    {"--uds", Kind::Value, nullptr, "rotor listens on TCP (--host, --port)"},
    {"--chat-template-content-format", Kind::Value, "auto", "rotor detects the content format the template expects "
                                                            "(auto)"},
    {"--trust-request-chat-template", Kind::Flag, nullptr, "rotor renders every request with the server's chat "
                                                           "template"},
    {"--response-role", Kind::Value, "assistant", "rotor answers in the assistant role"},
    {"--enable-ssl-refresh", Kind::Flag, nullptr, "rotor does not reload certificates while running"},
    {"--middleware", Kind::Values, nullptr, kPlugins},
    {"--enable-request-id-headers", Kind::Flag, nullptr, "rotor does not set X-Request-Id headers yet"},
    {"--exclude-tools-when-tool-choice-none", Kind::Flag, nullptr, "not implemented in rotor"},
    {"--tool-parser-plugin", Kind::Value, nullptr, kPlugins},
    {"--tool-server", Kind::Value, nullptr, "rotor runs no tool servers (tool calls come back as tool_calls)"},
    {"--log-config-file", Kind::Value, nullptr, "rotor logs to stderr (--log-level)"},
    {"--enable-server-load-tracking", Kind::Flag, nullptr, "rotor reports its load through /metrics"},
    {"--enable-force-include-usage", Kind::Flag, nullptr, "rotor streams usage when a request asks "
                                                          "(stream_options.include_usage); forcing it is not there yet"},
    {"--enable-tokenizer-info-endpoint", Kind::Flag, nullptr, "rotor serves /tokenize and /detokenize (no "
                                                              "/tokenizer_info)"},
    {"--enable-log-outputs", Kind::Flag, nullptr, "rotor logs requests (--enable-log-requests), not their outputs"},
    {"--enable-log-deltas", Kind::Flag, nullptr, "rotor logs requests (--enable-log-requests), not their outputs"},
    {"--h11-max-incomplete-event-size", Kind::Value, nullptr, "rotor's HTTP server has its own limits"},
    {"--h11-max-header-count", Kind::Value, nullptr, "rotor's HTTP server has its own limits"},
    {"--log-error-stack", Kind::Flag, nullptr, "rotor logs one line per error (--log-level debug adds where)"},
    {"--headless", Kind::Flag, nullptr, "rotor runs its engine inside the API server (no headless mode)"},
    {"--api-server-count", Kind::Value, "1", "rotor runs one API server (its connection threads serve every "
                                             "request)"},
    {"--config", Kind::Value, nullptr, "rotor takes its flags on the command line only (no YAML file)"},
};

// vLLM's aliases CLI11 cannot register (multi-letter after one dash).
const std::pair<const char*, const char*> kAliases[] = {
    {"-tp", "--tensor-parallel-size"},      {"-pp", "--pipeline-parallel-size"},
    {"-dp", "--data-parallel-size"},        {"-dpn", "--data-parallel-rank"},
    {"-dpr", "--data-parallel-start-rank"}, {"-dpl", "--data-parallel-size-local"},
    {"-dpa", "--data-parallel-address"},    {"-dpp", "--data-parallel-rpc-port"},
    {"-dpb", "--data-parallel-backend"},    {"-dph", "--data-parallel-hybrid-lb"},
    {"-dpe", "--data-parallel-external-lb"}, {"-ep", "--enable-expert-parallel"},
    {"-dcp", "--decode-context-parallel-size"}, {"-pcp", "--prefill-context-parallel-size"},
    {"-cc", "--compilation-config"},        {"-ac", "--attention-config"},
    {"-asc", "--api-server-count"},
};

bool is_accepted(const Rejected& r, const std::string& value) {
  if (!r.accepted) return false;
  const std::string list = std::string("|") + r.accepted + "|";
  return list.find("|" + value + "|") != std::string::npos;
}

std::string first_name(const char* names) {
  const std::string s(names);
  return s.substr(0, s.find(','));
}

}  // namespace

void add_rejected_vllm_flags(CLI::App& cmd, std::vector<std::string>& given) {
  for (const Rejected& r : kRejected) {
    const std::string name = first_name(r.names);
    const std::string help = std::string("Rejected: ") + r.instead;
    switch (r.kind) {
      case Kind::Flag:
        cmd.add_flag_callback(r.names, [&given, name, &r] { given.push_back(name + ": " + r.instead); }, help);
        cmd.add_flag_callback("--no-" + name.substr(2), [&given, name, &r] { given.push_back(name + ": " + r.instead); },
                              help);
        break;
      case Kind::Value:
        cmd.add_option_function<std::string>(
            r.names,
            [&given, name, &r](const std::string& v) {
              if (!is_accepted(r, v)) given.push_back(name + (r.accepted ? " " + v : "") + ": " + r.instead);
            },
            help);
        break;
      case Kind::Values:
        cmd.add_option_function<std::vector<std::string>>(
               r.names, [&given, name, &r](const std::vector<std::string>&) { given.push_back(name + ": " + r.instead); },
               help)
            ->take_all();
        break;
    }
  }
}

std::vector<std::string> expand_vllm_aliases(std::vector<std::string> argv) {
  for (std::string& a : argv)
    for (const auto& [alias, name] : kAliases) {
      const std::string al(alias);
      if (a == al) a = name;
      else if (a.rfind(al + "=", 0) == 0) a = std::string(name) + a.substr(al.size());
    }
  return argv;
}

int64_t parse_human_int(const std::string& flag, const std::string& text) {
  static const std::regex kPlain(R"(\s*(\d+)\s*)"), kSuffixed(R"(\s*(\d+(?:\.\d+)?)([kKmMgGtT])\s*)");
  std::smatch m;
  if (std::regex_match(text, m, kPlain)) {
    try {
      return std::stoll(m[1].str());
    } catch (const std::out_of_range&) {
      ROTOR_FAIL("{}: {} is too large", flag, text);
    }
  }
  ROTOR_CHECK(std::regex_match(text, m, kSuffixed),
              "{}: '{}' is not an integer (digits, or with a suffix: 32k = 32000, 32K = 32768)", flag, text);
  const std::string number = m[1].str();
  const char suffix = m[2].str()[0];
  const int power = std::string("kmgt").find(static_cast<char>(std::tolower(suffix))) + 1;
  if (std::islower(static_cast<unsigned char>(suffix))) {
    const double v = std::stod(number) * std::pow(1000.0, power);
    ROTOR_CHECK(v < 9.2e18, "{}: {} is too large", flag, text);
    return static_cast<int64_t>(v);
  }
  ROTOR_CHECK(number.find('.') == std::string::npos,
              "{}: decimals are not allowed with binary suffixes like {} (did you mean {}{}?)", flag, suffix, number,
              static_cast<char>(std::tolower(suffix)));
  const int64_t n = std::stoll(number);
  ROTOR_CHECK(n < (int64_t{1} << (63 - 10 * power)), "{}: {} is too large", flag, text);
  return n << (10 * power);
}

}  // namespace rotor::app
