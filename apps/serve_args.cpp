// apps/serve_args.cpp — `rotor serve` flags: registration (CLI11) and resolution.
#include "apps/serve_args.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "apps/default_model.h"
#include "apps/engine_args.h"
#include "apps/vllm_flags.h"
#include "core/check.h"
#include "engine/runner/kv_cache.h"
#include "hub/resolve.h"
#include "kernels/backend.h"
#include "model/config.h"

namespace rotor::app {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

json parse_json_flag(const std::string& flag, const std::string& text) {
  json j = json::parse(text, nullptr, false);
  ROTOR_CHECK(!j.is_discarded(), "{}: not valid JSON: {}", flag, text);
  return j;
}

void parse_compilation_config(const ServeArgs& a, ServeConfig& c) {
  if (!a.compilation_config.empty()) {
    json j = parse_json_flag("--compilation-config", a.compilation_config);
    if (j.is_number_integer()) j = json{{"level", j}};  // vLLM's -O N shorthand
    ROTOR_CHECK(j.is_object(), "--compilation-config must be a JSON object");
    c.compilation_config = j;
    for (const auto& [key, v] : j.items()) {
      if (key == "cudagraph_mode") {
        ROTOR_CHECK(v.is_string(), "--compilation-config: cudagraph_mode must be a string");
        const std::string mode = v.get<std::string>();
        static const std::vector<std::string> kModes = {"NONE", "PIECEWISE", "FULL", "FULL_DECODE_ONLY",
                                                        "FULL_AND_PIECEWISE"};
        ROTOR_CHECK(std::find(kModes.begin(), kModes.end(), mode) != kModes.end(),
                    "--compilation-config: cudagraph_mode must be NONE, PIECEWISE, FULL, FULL_DECODE_ONLY or "
                    "FULL_AND_PIECEWISE (got '{}')",
                    mode);
        if (mode != "NONE" && mode != "FULL_DECODE_ONLY")
          c.unsupported.push_back(fmt::format(
              "--compilation-config cudagraph_mode {}: rotor captures CUDA graphs of whole decode steps only "
              "(NONE or FULL_DECODE_ONLY)", mode));
        c.cudagraph_mode = mode;
      } else if (key == "cudagraph_capture_sizes") {
        ROTOR_CHECK(v.is_array(), "--compilation-config: cudagraph_capture_sizes must be a list of integers");
        for (const json& s : v) {
          ROTOR_CHECK(s.is_number_integer() && s.get<int64_t>() > 0 && s.get<int64_t>() <= 1 << 16,
                      "--compilation-config: cudagraph_capture_sizes must be a list of positive integers");
          c.cudagraph_capture_sizes.push_back(s.get<int>());
        }
      } else {
        c.warnings.push_back(fmt::format("--compilation-config: '{}' has no meaning in rotor (ignored)", key));
      }
    }
  }
  if (a.enforce_eager) c.cudagraph_mode = "NONE";
  if (c.compilation_config.contains("cudagraph_mode") && c.cudagraph_mode != "NONE" && c.device == "cpu")
    c.warnings.push_back(fmt::format("--compilation-config cudagraph_mode {}: no CUDA graphs on the CPU backend (ignored)",
                                     c.cudagraph_mode));
}

void check_enabled_flag(const json& obj, const char* owner) {
  const auto it = obj.find("enabled");
  ROTOR_CHECK(it == obj.end() || it->is_boolean(), "--additional-config: {}.enabled must be a boolean", owner);
}

void parse_additional_config(const ServeArgs& a, ServeConfig& c) {
  if (a.additional_config.empty()) return;
  const json j = parse_json_flag("--additional-config", a.additional_config);
  ROTOR_CHECK(j.is_object(), "--additional-config must be a JSON object");
  c.additional_config = j;
  for (const auto& [key, v] : j.items()) {
    if (key == "enable_cpu_binding") {
      ROTOR_CHECK(v.is_boolean(), "--additional-config: enable_cpu_binding must be a boolean");
      c.enable_cpu_binding = v.get<bool>();  // apps/serve.cpp binds (comm/cpu_binding.h)
    } else if (key == "weight_prefetch_config") {
      ROTOR_CHECK(v.is_object(), "--additional-config: weight_prefetch_config must be an object");
      check_enabled_flag(v, "weight_prefetch_config");
      const auto ratio = v.find("prefetch_ratio");
      ROTOR_CHECK(ratio == v.end() || ratio->is_object(),
                  "--additional-config: weight_prefetch_config.prefetch_ratio must be an object");
      if (v.value("enabled", false))
        c.warnings.push_back("--additional-config weight_prefetch_config: accepted, off: rotor's L2 weight prefetch "
                             "(docs/weight-prefetch.md) is built and measured slower at every batch size on an H100 "
                             "(rotor_bench_latency --splits fixed,fixed+prefetch; docs/perf-log.md)");
    } else if (key == "ascend_scheduler_config") {
      ROTOR_CHECK(v.is_object(), "--additional-config: ascend_scheduler_config must be an object");
      check_enabled_flag(v, "ascend_scheduler_config");
      if (v.value("enabled", false))
        c.warnings.push_back("--additional-config ascend_scheduler_config.enabled: rotor has one scheduler "
                             "(vLLM v1's, chunked prefill always on); ignored");
    } else {
      c.warnings.push_back(fmt::format("--additional-config: unknown key '{}' (ignored)", key));
    }
  }
}

// --hf-overrides (and the older --rope-scaling) as one JSON object merged into config.json.
void parse_overrides(const ServeArgs& a, ServeConfig& c) {
  if (!a.hf_overrides.empty()) {
    c.hf_overrides = parse_json_flag("--hf-overrides", a.hf_overrides);
    ROTOR_CHECK(c.hf_overrides.is_object(), "--hf-overrides must be a JSON object (got {})", a.hf_overrides);
  }
  if (!a.rope_scaling.empty()) {
    const json r = parse_json_flag("--rope-scaling", a.rope_scaling);
    ROTOR_CHECK(r.is_object(), "--rope-scaling must be a JSON object (got {})", a.rope_scaling);
    c.hf_overrides["rope_scaling"] = r;
  }
}

void resolve_model(ServeArgs& a, ServeConfig& c, bool allow_download) {
  ModelConfig model;
  bool quant_file = false;
  if (!a.model_flag.empty()) {
    ROTOR_CHECK(a.model.empty() || a.model == a.model_flag, "the model is given twice ({} and --model {})", a.model,
                a.model_flag);
    a.model = a.model_flag;
  }
  if (a.model.empty()) {
    c.embedded_default = true;
    ROTOR_CHECK(a.load_format != "safetensors",
                "--load-format safetensors needs a MODEL_DIR (without one rotor serves its embedded random-weight model)");
    ROTOR_CHECK(c.hf_overrides.empty(), "--hf-overrides needs a MODEL_DIR (the embedded default model has fixed "
                "settings)");
    a.load_format = "dummy";
    model = ModelConfig::from_json(default_model_config_json());
  } else {
    hub::HubOptions h;
    h.revision = a.revision;
    h.download_dir = a.download_dir;
    h.token = a.hf_token;
    h.weights = a.load_format != "dummy";
    h.allow_download = allow_download;
    const fs::path p = hub::resolve_model(a.model, h);
    c.model_dir = p.string();
    const bool dir = fs::is_directory(p);
    ROTOR_CHECK(dir || a.load_format == "dummy",
                "MODEL_DIR {} is not a directory (a bare config.json needs --load-format dummy)", a.model);
    const fs::path config = dir ? p / "config.json" : p;
    ROTOR_CHECK(fs::exists(config), "no config.json in {}", a.model);
    model = ModelConfig::load(config, c.hf_overrides.empty() ? "" : c.hf_overrides.dump());
    quant_file = dir && fs::exists(p / "quant_model_description.json");
  }
  c.model_max_len = model.max_context_len();

  if (a.quantization == "w8a8") a.quantization = "ascend";
  ROTOR_CHECK(a.quantization.empty() || a.quantization == "ascend" || a.quantization == "none",
              "--quantization must be ascend (or w8a8) or none (got '{}')", a.quantization);
  if (a.quantization.empty()) {
    a.quantization = quant_file ? "ascend" : "none";
    c.quantization_source = quant_file ? "quant_model_description.json" : "";
  } else {
    c.quantization_source = "flag";
    ROTOR_CHECK(!(a.quantization == "none" && quant_file),
                "{} is a W8A8 checkpoint (quant_model_description.json); --quantization none cannot load it", a.model);
    if (a.quantization == "ascend" && !c.embedded_default && !quant_file && a.load_format != "dummy")
      c.warnings.push_back(fmt::format("--quantization ascend: {} has no quant_model_description.json (loading "
                                       "will fail)", a.model));
    ROTOR_CHECK(!(a.quantization == "ascend" && c.embedded_default),
                "--quantization ascend needs a W8A8 MODEL_DIR (the embedded default model is bf16)");
  }

  if (a.engine.max_model_len == 0) a.engine.max_model_len = c.model_max_len;
  ROTOR_CHECK(a.engine.max_model_len <= c.model_max_len,
              "--max-model-len {} is longer than the model's context ({}: max_position_embeddings, or "
              "original_max_position_embeddings x factor with YaRN; extend it with --hf-overrides rope_scaling)",
              a.engine.max_model_len, c.model_max_len);
  if (a.served_model_name.empty())
    a.served_model_name.push_back(c.embedded_default ? kDefaultModelName : a.model);
}

}  // namespace

void add_serve_flags(CLI::App& cmd, ServeArgs& a) {
  cmd.add_option("model", a.model,
                 "Model directory (Hugging Face layout) or hub id Org/Name (through the Hugging Face cache, "
                 "downloaded if missing); none = the embedded random-weight model");
  cmd.add_option("--model", a.model_flag, "The model, as a flag (vLLM's older spelling)");
  cmd.add_option("--revision", a.revision, "Hub model: branch, tag or commit (default main)");
  cmd.add_option("--download-dir", a.download_dir, "Hub model: the Hugging Face cache directory to use");
  cmd.add_option("--hf-token", a.hf_token, "Hub model: access token (default: $HF_TOKEN)");
  cmd.add_option("--host", a.host, "Address to listen on")->capture_default_str();
  cmd.add_option("--port", a.port, "Port to listen on")->capture_default_str();
  cmd.add_option("--served-model-name", a.served_model_name, "Name(s) the API accepts as `model` (first one is reported)");
  cmd.add_option("--api-key", a.api_key,
                 "Require one of these bearer tokens on /v1 routes (default: $VLLM_API_KEY)");
  add_parallel_flags(cmd, a.parallel);
  cmd.add_option("--data-parallel-size", a.data_parallel_size, "Model replicas")->capture_default_str();
  add_engine_options(&cmd, a.engine);
  cmd.add_option("--quantization,-q", a.quantization,
                 "ascend (= w8a8: msmodelslim W8A8) or none; default: detected from quant_model_description.json");
  cmd.add_option("--load-format", a.load_format, "auto | safetensors | dummy (random weights)")->capture_default_str();
  cmd.add_option("--dtype", a.dtype, "auto | bfloat16")->capture_default_str();
  cmd.add_option("--seed", a.seed, "Seed of dummy weights and of unseeded sampling")->capture_default_str();
  cmd.add_flag("--trust-remote-code", a.trust_remote_code, "Accepted for compatibility (rotor runs no remote code)");
  cmd.add_option("--compilation-config,-O", a.compilation_config,
                 "JSON, e.g. '{\"cudagraph_mode\": \"FULL_DECODE_ONLY\"}' (NONE | FULL_DECODE_ONLY)");
  cmd.add_option("--additional-config", a.additional_config,
                 "JSON (vllm-ascend): enable_cpu_binding, weight_prefetch_config, ascend_scheduler_config");
  cmd.add_flag("--enforce-eager", a.enforce_eager, "No CUDA graphs (cudagraph_mode NONE)");
  cmd.add_option("--chat-template", a.chat_template, "Jinja chat template file replacing the tokenizer's");
  cmd.add_option("--tokenizer", a.tokenizer, "Tokenizer directory (default: MODEL_DIR, else the embedded Qwen3 one)");
  cmd.add_option("--tokenizer-mode", a.tokenizer_mode,
                 "auto | slow | hf: the model's tokenizer.json (rotor has one implementation); mistral: refused")
      ->capture_default_str();
  cmd.add_option("--hf-overrides", a.hf_overrides,
                 "JSON object merged into config.json, e.g. '{\"rope_scaling\": {\"rope_type\": \"yarn\", ...}}'");
  cmd.add_option("--rope-scaling", a.rope_scaling, "JSON: the same as --hf-overrides '{\"rope_scaling\": JSON}'");
  cmd.add_option("--scheduling-policy", a.scheduling_policy,
                 "fcfs (first come, first served) or priority (by the requests' priority field, lower first)")
      ->capture_default_str();
  cmd.add_option("--generation-config", a.generation_config,
                 "auto: sampling defaults from MODEL_DIR/generation_config.json; vllm: none; or a directory")
      ->capture_default_str();
  cmd.add_option("--reasoning-parser", a.reasoning_parser, "qwen3: <think>…</think> into reasoning_content");
  cmd.add_flag("--enable-auto-tool-choice", a.enable_auto_tool_choice,
               "Accepted (requests with tools always get <tool_call> blocks parsed)");
  cmd.add_option("--tool-call-parser", a.tool_call_parser, "hermes (Qwen3's <tool_call> format)");
  cmd.add_option("--device", a.device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  cmd.add_option("--num-layers", a.num_layers, "Run only the first N layers (for testing large configs)");
  cmd.add_option("--max-waiting-requests", a.max_waiting_requests,
                 "Requests that may wait for a running slot; past it 503 with Retry-After (rotor extra)")
      ->capture_default_str();
  cmd.add_option("--max-connections", a.max_connections,
                 "Open HTTP connections; past it 503 (/health and /metrics still answered) (rotor extra)")
      ->capture_default_str();
  cmd.add_option("--max-request-body-bytes", a.max_request_body_bytes,
                 "Largest request body after chunked / gzip / deflate decoding; past it 413 (rotor extra)")
      ->capture_default_str();
  cmd.add_option("--timeout-keep-alive", a.timeout_keep_alive,
                 "Seconds an idle keep-alive connection stays open (uvicorn's name)")
      ->capture_default_str();
  cmd.add_option("--timeout-read", a.timeout_read,
                 "Seconds a request's headers and body may take to arrive (rotor extra)")
      ->capture_default_str();
  cmd.add_flag("--dry-run", a.dry_run, "Validate the flags, print the resolved configuration as JSON and exit");
  add_frontend_flags(cmd, a.frontend);
  // vLLM flags that ask for what rotor does anyway.
  for (const char* flag : {"--enable-chunked-prefill", "--disable-uvicorn-access-log", "--disable-sliding-window",
                           "--disable-cascade-attn", "--disable-custom-all-reduce", "--disable-fastapi-docs",
                           "--disable-frontend-multiprocessing", "--use-tqdm-on-load"})
    cmd.add_flag_callback(flag, [&a, flag] { a.no_effect.push_back(flag); }, "Accepted: rotor does this anyway");
  cmd.add_option("--uvicorn-log-level")->description("Accepted (use --log-level)");
  add_rejected_vllm_flags(cmd, a.rejected);
}

ServeConfig resolve_serve_config(const ServeArgs& given, bool allow_download) {
  ServeConfig c;
  c.args = given;
  ServeArgs& a = c.args;
  if (!a.rejected.empty()) ROTOR_FAIL("{}", a.rejected.front());
  if (a.api_key.empty())
    if (const char* env = std::getenv("VLLM_API_KEY"); env && *env) a.api_key.push_back(env);
  for (const auto& k : a.api_key) ROTOR_CHECK(!k.empty(), "--api-key: empty key");
  ROTOR_CHECK(a.max_waiting_requests >= 0, "--max-waiting-requests must be at least 0");
  ROTOR_CHECK(a.max_connections >= 1, "--max-connections must be at least 1");
  ROTOR_CHECK(a.max_request_body_bytes >= 1024, "--max-request-body-bytes must be at least 1024");
  ROTOR_CHECK(a.timeout_keep_alive > 0 && a.timeout_keep_alive <= 86400, "--timeout-keep-alive must be in (0, 86400]");
  ROTOR_CHECK(a.timeout_read > 0 && a.timeout_read <= 86400, "--timeout-read must be in (0, 86400]");
  ROTOR_CHECK(a.port >= 0 && a.port <= 65535, "--port must be between 0 and 65535 (got {})", a.port);
  ROTOR_CHECK(!a.host.empty(), "--host must not be empty");
  for (const auto& n : a.served_model_name) ROTOR_CHECK(!n.empty(), "--served-model-name: empty name");
  for (std::string& no : check_parallel(a.parallel)) c.unsupported.push_back(std::move(no));
  ROTOR_CHECK(a.data_parallel_size >= 1, "--data-parallel-size must be at least 1");
  ROTOR_CHECK(a.engine.max_num_seqs >= 1, "--max-num-seqs must be at least 1");
  ROTOR_CHECK(a.engine.max_model_len >= 0, "--max-model-len must be positive");
  ROTOR_CHECK(a.engine.prefill_lane_sms >= 0, "--prefill-lane-sms must be at least 0 (0: no prefill lane)");
  ROTOR_CHECK(a.engine.prefill_lane_backlog >= 0, "--prefill-lane-backlog must be at least 0");
  ROTOR_CHECK(a.engine.max_num_batched_tokens >= a.engine.max_num_seqs,
              "--max-num-batched-tokens ({}) must be at least --max-num-seqs ({})", a.engine.max_num_batched_tokens,
              a.engine.max_num_seqs);
  ROTOR_CHECK(a.engine.gpu_memory_utilization > 0.0f && a.engine.gpu_memory_utilization <= 1.0f,
              "--gpu-memory-utilization must be in (0, 1] (got {})", a.engine.gpu_memory_utilization);
  ROTOR_CHECK(a.engine.kv_cache_memory_bytes >= 0, "--kv-cache-memory-bytes must be positive");
  static const std::vector<int> kBlockSizes = {1, 8, 16, 32, 64, 128};
  ROTOR_CHECK(std::find(kBlockSizes.begin(), kBlockSizes.end(), a.engine.block_size) != kBlockSizes.end(),
              "--block-size must be 1, 8, 16, 32, 64 or 128 (got {})", a.engine.block_size);
  ROTOR_CHECK(a.engine.max_logprobs >= 0, "--max-logprobs must be at least 0");
  ROTOR_CHECK(a.load_format == "auto" || a.load_format == "safetensors" || a.load_format == "dummy",
              "--load-format must be auto, safetensors or dummy (got '{}')", a.load_format);
  ROTOR_CHECK(a.num_layers >= 0, "--num-layers must be positive");
  if (a.dtype == "bf16") a.dtype = "bfloat16";
  static const std::vector<std::string> kOtherDtypes = {"float16", "half", "float32", "float"};
  if (std::find(kOtherDtypes.begin(), kOtherDtypes.end(), a.dtype) != kOtherDtypes.end())
    c.unsupported.push_back(fmt::format("--dtype {}: rotor runs bf16 models in bf16 (use auto or bfloat16)", a.dtype));
  else
    ROTOR_CHECK(a.dtype == "auto" || a.dtype == "bfloat16", "--dtype must be auto or bfloat16 (got '{}')", a.dtype);
  ROTOR_CHECK(a.reasoning_parser.empty() || a.reasoning_parser == "qwen3",
              "--reasoning-parser must be qwen3 (got '{}')", a.reasoning_parser);
  ROTOR_CHECK(a.tool_call_parser.empty() || a.tool_call_parser == "hermes",
              "--tool-call-parser must be hermes, Qwen3's format (got '{}')", a.tool_call_parser);
  ROTOR_CHECK(a.chat_template.empty() || fs::is_regular_file(a.chat_template), "--chat-template: no file {}",
              a.chat_template);
  ROTOR_CHECK(a.tokenizer.empty() || fs::is_directory(a.tokenizer), "--tokenizer: no directory {}", a.tokenizer);
  ROTOR_CHECK(a.generation_config == "auto" || a.generation_config == "vllm" || fs::is_directory(a.generation_config),
              "--generation-config must be auto, vllm or a directory (got '{}')", a.generation_config);
  ROTOR_CHECK(a.device == "auto" || a.device == "cpu" || a.device.starts_with("cuda"),
              "--device must be cpu, cuda, cuda:N or auto (got '{}')", a.device);
  c.device = a.device == "auto" ? (cuda_available() ? "cuda" : "cpu") : a.device;
  if (a.tokenizer_mode == "slow" || a.tokenizer_mode == "hf") a.tokenizer_mode = "auto";
  ROTOR_CHECK(a.tokenizer_mode != "mistral", "--tokenizer-mode mistral: rotor reads Hugging Face tokenizer.json "
              "files only (no mistral_common tokenizer)");
  ROTOR_CHECK(a.tokenizer_mode == "auto", "--tokenizer-mode must be auto, slow or hf (got '{}')", a.tokenizer_mode);
  ROTOR_CHECK(a.scheduling_policy == "fcfs" || a.scheduling_policy == "priority",
              "--scheduling-policy must be fcfs or priority (got '{}')", a.scheduling_policy);
  a.engine.priority_scheduling = a.scheduling_policy == "priority";
  if (parse_kv_cache_dtype(a.engine.kv_cache_dtype) != KvCacheDtype::Fp8E4M3 && a.engine.calculate_kv_scales)
    c.warnings.push_back("--calculate-kv-scales: no effect without --kv-cache-dtype fp8");
  for (const std::string& f : a.no_effect) c.warnings.push_back(f + ": accepted; rotor does this anyway");
  c.frontend = resolve_frontend(a.frontend);

  parse_overrides(a, c);
  resolve_model(a, c, allow_download);
  parse_compilation_config(a, c);
  parse_additional_config(a, c);
  if (a.data_parallel_size > 1)
    c.unsupported.push_back(fmt::format("--data-parallel-size {}: data parallelism is not implemented yet (run one "
                                        "server per replica behind a load balancer)",
                                        a.data_parallel_size));
  if (a.trust_remote_code) c.warnings.push_back("--trust-remote-code: accepted; rotor runs no remote code");
  return c;
}

json ServeConfig::to_json() const {
  const ServeArgs& a = args;
  return {
      {"model", a.model.empty() ? json(nullptr) : json(a.model)},
      {"model_dir", model_dir.empty() ? json(nullptr) : json(model_dir)},
      {"revision", a.revision.empty() ? json(nullptr) : json(a.revision)},
      {"embedded_default_model", embedded_default},
      {"served_model_names", a.served_model_name},
      {"host", a.host},
      {"port", a.port},
      {"api_key", a.api_key.empty() ? "none" : "set"},
      {"http", {{"max_waiting_requests", a.max_waiting_requests},
                {"max_connections", a.max_connections},
                {"max_request_body_bytes", a.max_request_body_bytes},
                {"timeout_keep_alive", a.timeout_keep_alive},
                {"timeout_read", a.timeout_read}}},
      {"device", device},
      {"parallel", [&] {
         json p = parallel_json(a.parallel);
         p["data_parallel_size"] = a.data_parallel_size;
         return p;
       }()},
      {"engine", {{"max_num_seqs", a.engine.max_num_seqs},
                  {"max_model_len", a.engine.max_model_len},
                  {"model_max_position_embeddings", model_max_len},
                  {"max_num_batched_tokens", a.engine.max_num_batched_tokens},
                  {"block_size", a.engine.block_size},
                  {"enable_prefix_caching", a.engine.enable_prefix_caching},
                  {"async_scheduling", a.engine.async_scheduling},
                  {"prefill_lane_sms", a.engine.prefill_lane_sms},
                  {"prefill_lane_backlog", a.engine.prefill_lane_backlog},
                  {"scheduling_policy", a.scheduling_policy},
                  {"gpu_memory_utilization", std::round(a.engine.gpu_memory_utilization * 1e6) / 1e6},
                  {"kv_cache_memory_bytes", a.engine.kv_cache_memory_bytes},
                  {"kv_cache_dtype", a.engine.kv_cache_dtype},
                  {"calculate_kv_scales", a.engine.calculate_kv_scales},
                  {"max_logprobs", a.engine.max_logprobs},
                  {"seed", a.seed}}},
      {"load", {{"load_format", a.load_format},
                {"dtype", a.dtype},
                {"quantization", a.quantization},
                {"quantization_source", quantization_source},
                {"num_layers", a.num_layers},
                {"hf_overrides", hf_overrides},
                {"trust_remote_code", a.trust_remote_code}}},
      {"compilation_config", {{"cudagraph_mode", cudagraph_mode},
                              {"cudagraph_capture_sizes", cudagraph_capture_sizes},
                              {"given", compilation_config}}},
      {"additional_config", {{"enable_cpu_binding", enable_cpu_binding}, {"given", additional_config}}},
      {"api", {{"chat_template", a.chat_template.empty() ? json(nullptr) : json(a.chat_template)},
               {"tokenizer", a.tokenizer.empty() ? json(nullptr) : json(a.tokenizer)},
               {"tokenizer_mode", a.tokenizer_mode},
               {"generation_config", a.generation_config},
               {"reasoning_parser", a.reasoning_parser.empty() ? json(nullptr) : json(a.reasoning_parser)},
               {"tool_call_parser", "hermes"}}},
      {"frontend", frontend},
      {"warnings", warnings},
      {"unsupported", unsupported},
  };
}

}  // namespace rotor::app
