// apps/serve_args.h — the flags of `rotor serve` (vLLM's names and meanings) and their
// resolution into one validated ServeConfig: JSON flags parsed, quantization detected from
// the checkpoint, the device chosen, and what rotor cannot run yet listed as `unsupported`
// (a real start fails on the first; `--dry-run` prints them with the rest of the config).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/frontend_args.h"
#include "apps/parallel_args.h"
#include "engine/engine.h"

namespace rotor::app {

// Flag values as given.
struct ServeArgs {
  std::string model;                          // MODEL_DIR or Org/Name; empty = the embedded default model
  std::string model_flag;                     // --model (vLLM's older spelling of the positional)
  std::string revision;                       // --revision of a hub model
  std::string download_dir;                   // --download-dir: the Hugging Face cache root to use
  std::string hf_token;                       // --hf-token (else $HF_TOKEN)
  std::string host = "0.0.0.0";
  int port = 8000;
  std::vector<std::string> served_model_name;
  std::vector<std::string> api_key;           // --api-key KEY [KEY ...] (any one is accepted), else $VLLM_API_KEY
  ParallelArgs parallel;                      // --tensor-parallel-size, --enable-expert-parallel, ...
  int data_parallel_size = 1;
  EngineConfig engine;                        // the engine flags (apps/engine_args.h)
  std::string quantization;                   // ascend | w8a8 | none; empty = detect
  std::string load_format = "auto";
  std::string dtype = "auto";
  int64_t seed = 0;
  bool trust_remote_code = false;
  std::string compilation_config;             // JSON object, or an optimization level
  std::string additional_config;              // JSON object (vllm-ascend's keys)
  bool enforce_eager = false;
  std::string chat_template;                  // a Jinja file replacing the tokenizer's
  std::string tokenizer;                      // a tokenizer directory other than the model's
  std::string tokenizer_mode = "auto";        // auto | slow | hf: the same tokenizer.json; mistral: refused
  std::string hf_overrides;                   // JSON object merged into config.json
  std::string rope_scaling;                   // older vLLM: JSON, = --hf-overrides '{"rope_scaling": ...}'
  std::string scheduling_policy = "fcfs";     // fcfs or priority
  std::string generation_config = "auto";     // auto: defaults from generation_config.json; vllm: none
  std::string reasoning_parser;               // qwen3
  bool enable_auto_tool_choice = false;
  std::string tool_call_parser;               // hermes
  std::string device = "auto";
  int num_layers = 0;                         // rotor extra: run only the first N layers
  // The HTTP front end (rotor extras; vLLM has none of these).
  int max_waiting_requests = 2048;            // past it: 503 + Retry-After
  int max_connections = 4096;                 // open connections; past it: 503 (health, metrics answered)
  int64_t max_request_body_bytes = int64_t{8} << 20;  // decoded (chunked, gzip, deflate)
  double timeout_keep_alive = 5;              // seconds an idle connection is kept
  double timeout_read = 30;                   // seconds for a request's headers and body
  bool dry_run = false;
  FrontendArgs frontend;                      // logging, response defaults, CORS / TLS / root path
  std::vector<std::string> no_effect;         // vLLM flags that ask for what rotor does anyway
  std::vector<std::string> rejected;          // vLLM flags rotor does not implement: "--flag: instead ..."
};

// The resolved configuration.
struct ServeConfig {
  ServeArgs args;                             // normalised (model names, quantization, device)
  bool embedded_default = false;              // no MODEL_DIR: the built-in random-weight model
  std::string model_dir;                      // the local directory (a hub id resolved through the cache)
  nlohmann::ordered_json hf_overrides = nlohmann::ordered_json::object();
  nlohmann::ordered_json frontend = nlohmann::ordered_json::object();
  std::string quantization_source;            // "flag", "quant_model_description.json" or ""
  std::string device;                         // cpu | cuda | cuda:N (auto resolved)
  int model_max_len = 0;                      // the model's context (max_position_embeddings, or YaRN's)
  std::string cudagraph_mode = "FULL_DECODE_ONLY";  // NONE | FULL_DECODE_ONLY (GPU only)
  std::vector<int> cudagraph_capture_sizes;
  nlohmann::ordered_json compilation_config = nlohmann::ordered_json::object();
  nlohmann::ordered_json additional_config = nlohmann::ordered_json::object();
  bool enable_cpu_binding = false;
  std::vector<std::string> warnings;          // accepted, with no effect or an adjusted meaning
  std::vector<std::string> unsupported;       // valid flags rotor cannot run yet

  nlohmann::ordered_json to_json() const;
};

void add_serve_flags(CLI::App& cmd, ServeArgs& args);
// Validates; rotor::Error with a one-line message for a bad value or a rejected vLLM flag. A
// hub model id is resolved through the Hugging Face cache, downloading when allow_download.
ServeConfig resolve_serve_config(const ServeArgs& args, bool allow_download = false);

}  // namespace rotor::app
