// tests/apps/test_serve_args.cpp — `rotor serve` flags: the seed's command line parses as it
// is and resolves to what it asks for (with tensor parallel listed as not yet supported);
// bad values fail with one clear message; the embedded default needs no model directory.
#include <gtest/gtest.h>

#include "apps/serve_args.h"
#include "apps/vllm_flags.h"
#include "core/error.h"

namespace rotor::app {
namespace {

const std::string k235b = std::string(ROTOR_SHARED_DIR) + "/configs/qwen3-235b-a22b-instruct-2507";
const std::string kTiny = std::string(ROTOR_SHARED_DIR) + "/fixtures/tiny-qwen3-moe";
const std::string kTinyW8A8 = std::string(ROTOR_SHARED_DIR) + "/fixtures/tiny-qwen3-moe-w8a8";

ServeArgs parse(std::vector<std::string> argv) {
  CLI::App app;
  ServeArgs args;
  CLI::App* serve = app.add_subcommand("serve");
  add_serve_flags(*serve, args);
  argv = expand_vllm_aliases(std::move(argv));
  argv.insert(argv.begin(), {"rotor", "serve"});
  std::vector<const char*> c;
  for (const auto& s : argv) c.push_back(s.c_str());
  app.parse(static_cast<int>(c.size()), c.data());
  return args;
}

ServeConfig resolve(std::vector<std::string> argv) { return resolve_serve_config(parse(std::move(argv))); }

std::string error_of(std::vector<std::string> argv) {
  try {
    resolve(std::move(argv));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::vector<std::string>& v, const std::string& part) {
  for (const auto& s : v)
    if (s.find(part) != std::string::npos) return true;
  return false;
}

TEST(ServeArgs, SeedCommandLine) {
  const ServeConfig c = resolve(
      {k235b, "--served-model-name", "Qwen3-235B-A22B-Instruct-2507--w8a8-QuaRot-vllm-ZJ", "--host", "127.0.0.1",
       "--async-scheduling", "--tensor-parallel-size", "8", "--data-parallel-size", "1", "--max-num-seqs", "200",
       "--max-model-len", "36384", "--max-num-batched-tokens", "16384", "--gpu-memory-utilization", "0.9",
       "--quantization", "ascend", "--trust-remote-code", "--compilation-config",
       R"({"cudagraph_mode": "FULL_DECODE_ONLY"})", "--additional-config",
       R"({"ascend_scheduler_config":{"enabled":false},"enable_cpu_binding":true, "weight_prefetch_config":{"enabled":true,"prefetch_ratio":{"attn":{"qkv":1.0,"o":1.0},"moe":{"gate_up":0.7}}}})"});
  const ServeArgs& a = c.args;
  EXPECT_EQ(a.served_model_name, std::vector<std::string>{"Qwen3-235B-A22B-Instruct-2507--w8a8-QuaRot-vllm-ZJ"});
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8000);
  EXPECT_TRUE(a.engine.async_scheduling);
  EXPECT_EQ(a.parallel.tensor_parallel_size, 8);
  EXPECT_EQ(a.data_parallel_size, 1);
  EXPECT_EQ(a.engine.max_num_seqs, 200);
  EXPECT_EQ(a.engine.max_model_len, 36384);
  EXPECT_EQ(a.engine.max_num_batched_tokens, 16384);
  EXPECT_FLOAT_EQ(a.engine.gpu_memory_utilization, 0.9f);
  EXPECT_EQ(a.quantization, "ascend");
  EXPECT_EQ(c.quantization_source, "flag");
  EXPECT_TRUE(a.trust_remote_code);
  EXPECT_EQ(c.cudagraph_mode, "FULL_DECODE_ONLY");
  EXPECT_TRUE(c.enable_cpu_binding);
  EXPECT_TRUE(a.engine.enable_prefix_caching);
  EXPECT_EQ(c.model_max_len, 262144);
  EXPECT_TRUE(c.unsupported.empty()) << c.unsupported.front();
  EXPECT_TRUE(contains(c.warnings, "weight_prefetch_config"));
  EXPECT_TRUE(contains(c.warnings, "off: rotor's L2 weight prefetch (docs/weight-prefetch.md) is built and measured slower at every batch size"));
  EXPECT_FALSE(contains(c.warnings, "ascend_scheduler_config"));  // enabled: false asks for nothing
  const auto j = c.to_json();
  EXPECT_EQ(j["parallel"]["tensor_parallel_size"], 8);
  EXPECT_EQ(j["parallel"]["enable_expert_parallel"], false);
  EXPECT_EQ(j["parallel"]["distributed_executor_backend"], "mp");
  EXPECT_EQ(j["engine"]["max_model_len"], 36384);
  EXPECT_EQ(j["compilation_config"]["cudagraph_mode"], "FULL_DECODE_ONLY");
}

TEST(ServeArgs, EmbeddedDefault) {
  const ServeConfig c = resolve({});
  EXPECT_TRUE(c.embedded_default);
  EXPECT_EQ(c.args.load_format, "dummy");
  EXPECT_EQ(c.args.quantization, "none");
  EXPECT_EQ(c.args.served_model_name, std::vector<std::string>{"rotor-default-qwen3-moe"});
  EXPECT_GT(c.args.engine.max_model_len, 0);
  EXPECT_TRUE(c.unsupported.empty());
  EXPECT_EQ(c.args.host, "0.0.0.0");
}

TEST(ServeArgs, FixtureDefaultsAndDetection) {
  const ServeConfig c = resolve({kTiny, "--no-enable-prefix-caching", "--port", "0", "--block-size", "32"});
  EXPECT_EQ(c.args.served_model_name, std::vector<std::string>{kTiny});
  EXPECT_FALSE(c.args.engine.enable_prefix_caching);
  EXPECT_EQ(c.args.engine.max_model_len, 4096);
  EXPECT_EQ(c.args.engine.block_size, 32);
  EXPECT_EQ(c.args.quantization, "none");
  const ServeConfig q = resolve({kTinyW8A8});
  EXPECT_EQ(q.args.quantization, "ascend");
  EXPECT_EQ(q.quantization_source, "quant_model_description.json");
  EXPECT_TRUE(q.unsupported.empty());
  EXPECT_NE(error_of({kTinyW8A8, "--quantization", "none"}).find("W8A8 checkpoint"), std::string::npos);
  EXPECT_EQ(resolve({kTiny, "-q", "w8a8", "--dry-run"}).args.quantization, "ascend");
}

TEST(ServeArgs, AdditionalConfigUnknownKeysWarn) {
  const ServeConfig c = resolve({"--additional-config", R"({"foo": 1, "ascend_scheduler_config": {"enabled": true}})"});
  EXPECT_TRUE(contains(c.warnings, "unknown key 'foo'"));
  EXPECT_TRUE(contains(c.warnings, "ascend_scheduler_config"));
}

TEST(ServeArgs, FeaturesNotThereYetAreListed) {
  EXPECT_TRUE(contains(resolve({"--data-parallel-size", "2"}).unsupported, "--data-parallel-size 2"));
  EXPECT_TRUE(contains(resolve({"--compilation-config", R"({"cudagraph_mode": "PIECEWISE"})"}).unsupported,
                       "PIECEWISE"));
  EXPECT_TRUE(contains(resolve({"--dtype", "float16"}).unsupported, "--dtype float16"));
  EXPECT_EQ(resolve({}).cudagraph_mode, "FULL_DECODE_ONLY");  // the runner's default
  EXPECT_EQ(resolve({"--compilation-config", R"({"cudagraph_mode": "NONE"})"}).cudagraph_mode, "NONE");
  EXPECT_EQ(resolve({"--enforce-eager", "--compilation-config", R"({"cudagraph_mode": "FULL_DECODE_ONLY"})"})
                .cudagraph_mode,
            "NONE");
}

TEST(ServeArgs, BadValuesFailClearly) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--port", "70000"}, "--port"},
      {{"--tensor-parallel-size", "0"}, "--tensor-parallel-size"},
      {{"--max-num-seqs", "0"}, "--max-num-seqs"},
      {{"--max-num-seqs", "300", "--max-num-batched-tokens", "200"}, "--max-num-batched-tokens"},
      {{"--gpu-memory-utilization", "1.5"}, "--gpu-memory-utilization"},
      {{"--block-size", "17"}, "--block-size"},
      {{"--quantization", "fp8"}, "--quantization"},
      {{"--quantization", "ascend"}, "--quantization ascend"},
      {{"--load-format", "pt"}, "--load-format"},
      {{"--load-format", "safetensors"}, "MODEL_DIR"},
      {{"--dtype", "int4"}, "--dtype"},
      {{"--compilation-config", "{not json"}, "--compilation-config"},
      {{"--compilation-config", R"({"cudagraph_mode": "SOMETIMES"})"}, "cudagraph_mode"},
      {{"--compilation-config", R"({"cudagraph_mode": 1})"}, "cudagraph_mode"},
      {{"--additional-config", "[1]"}, "--additional-config"},
      {{"--additional-config", R"({"enable_cpu_binding": "yes"})"}, "enable_cpu_binding"},
      {{"--reasoning-parser", "deepseek"}, "--reasoning-parser"},
      {{"--tool-call-parser", "mistral"}, "--tool-call-parser"},
      {{"--chat-template", "/no/such/file.jinja"}, "--chat-template"},
      {{"/no/such/model"}, "does not exist"},
      {{kTiny, "--max-model-len", "5000"}, "max_position_embeddings"},
      {{"--device", "tpu"}, "--device"},
      {{"--max-model-len", "1.5K"}, "decimals are not allowed"},
      {{"--max-model-len", "lots"}, "--max-model-len"},
      {{"--tokenizer-mode", "mistral"}, "mistral_common"},
      {{"--tokenizer-mode", "custom"}, "--tokenizer-mode"},
      {{kTiny, "--hf-overrides", "[1]"}, "--hf-overrides"},
      {{"--hf-overrides", R"({"rope_theta": 5})"}, "needs a MODEL_DIR"},
      {{kTiny, "--hf-overrides", R"({"rope_scaling": {"rope_type": "longrope"}})"}, "longrope"},
      {{"--kv-cache-dtype", "fp8_e5m2"}, "rotor's FP8 KV cache is e4m3"},
      {{"--kv-cache-dtype", "int8"}, "auto, bfloat16, fp8 or fp8_e4m3"},
      {{"--scheduling-policy", "lifo"}, "--scheduling-policy"},
      {{"--max-log-len", "-5"}, "--max-log-len"},
      {{"--allowed-origins", "*"}, "JSON list"},
      {{"--ssl-keyfile", "/no/such/key.pem", "--ssl-certfile", "/no/such/cert.pem"}, "--ssl-keyfile"},
      {{"--root-path", "api"}, "--root-path"},
      {{"--model", "/a", "/b"}, "given twice"},
      {{"--max-waiting-requests", "-1"}, "--max-waiting-requests"},
      {{"--max-connections", "0"}, "--max-connections"},
      {{"--max-request-body-bytes", "10"}, "--max-request-body-bytes"},
      {{"--timeout-keep-alive", "0"}, "--timeout-keep-alive"},
      {{"--timeout-read", "-3"}, "--timeout-read"},
  };
  for (const auto& [argv, part] : cases) {
    const std::string e = error_of(argv);
    EXPECT_NE(e.find(part), std::string::npos) << argv[0] << " -> " << e;
  }
}

TEST(ServeArgs, HumanReadableIntegersAsVllm) {
  EXPECT_EQ(parse_human_int("f", "32768"), 32768);
  EXPECT_EQ(parse_human_int("f", "32k"), 32000);
  EXPECT_EQ(parse_human_int("f", "32K"), 32768);
  EXPECT_EQ(parse_human_int("f", "25.6k"), 25600);
  EXPECT_EQ(parse_human_int("f", "1m"), 1000000);
  EXPECT_EQ(parse_human_int("f", "2M"), 2097152);
  EXPECT_EQ(parse_human_int("f", "4G"), int64_t{4} << 30);
  EXPECT_EQ(parse_human_int("f", "1t"), 1000000000000);
  const ServeConfig c = resolve({kTiny, "--max-model-len", "2k", "--max-num-batched-tokens", "4K",
                                 "--kv-cache-memory-bytes", "1G"});
  EXPECT_EQ(c.args.engine.max_model_len, 2000);
  EXPECT_EQ(c.args.engine.max_num_batched_tokens, 4096);
  EXPECT_EQ(c.args.engine.kv_cache_memory_bytes, int64_t{1} << 30);
}

TEST(ServeArgs, VllmAliasesAndHonouredFlags) {
  EXPECT_EQ(resolve({"-tp", "4"}).args.parallel.tensor_parallel_size, 4);
  EXPECT_TRUE(resolve({"-ep"}).args.parallel.enable_expert_parallel);
  EXPECT_EQ(resolve({"-tp=2", "-dp", "3", "-pp", "1"}).args.data_parallel_size, 3);
  EXPECT_EQ(resolve({"-cc", R"({"cudagraph_mode": "NONE"})"}).cudagraph_mode, "NONE");
  const ServeConfig c = resolve({"--model", kTiny, "--tokenizer-mode", "slow", "--enable-log-requests", "--max-log-len",
                                 "40", "--return-tokens-as-token-ids", "--enable-prompt-tokens-details",
                                 "--disable-log-stats", "--kv-cache-dtype", "auto", "--scheduling-policy", "fcfs",
                                 "--disable-sliding-window", "--config-format", "hf"});
  EXPECT_EQ(c.model_dir, kTiny);
  EXPECT_EQ(c.args.tokenizer_mode, "auto");
  EXPECT_TRUE(c.args.frontend.enable_log_requests);
  EXPECT_EQ(c.frontend["max_log_len"], 40);
  EXPECT_EQ(c.frontend["log_stats"], false);
  EXPECT_EQ(c.frontend["return_tokens_as_token_ids"], true);
  EXPECT_EQ(c.frontend["enable_prompt_tokens_details"], true);
  EXPECT_TRUE(contains(c.warnings, "--disable-sliding-window"));
  EXPECT_TRUE(c.unsupported.empty());
  EXPECT_FALSE(resolve({"--enable-log-requests", "--disable-log-requests"}).args.frontend.enable_log_requests);
}

// vLLM's KV cache dtypes: fp8 and fp8_e4m3 are e4m3 with per-layer scales (with vLLM's
// --calculate-kv-scales), bf16 is bfloat16; --calculate-kv-scales without fp8 is a warning.
TEST(ServeArgs, KvCacheDtypes) {
  for (const char* d : {"fp8", "fp8_e4m3", "auto", "bfloat16"}) {
    const ServeConfig c = resolve({"--kv-cache-dtype", d});
    EXPECT_EQ(c.args.engine.kv_cache_dtype, d);
    EXPECT_EQ(c.to_json()["engine"]["kv_cache_dtype"], d);
    EXPECT_FALSE(c.args.engine.calculate_kv_scales);
  }
  EXPECT_EQ(resolve({"--kv-cache-dtype", "bf16"}).args.engine.kv_cache_dtype, "bfloat16");
  const ServeConfig calc = resolve({"--kv-cache-dtype", "fp8", "--calculate-kv-scales"});
  EXPECT_TRUE(calc.args.engine.calculate_kv_scales);
  EXPECT_EQ(calc.to_json()["engine"]["calculate_kv_scales"], true);
  EXPECT_TRUE(calc.warnings.empty());
  EXPECT_TRUE(contains(resolve({"--calculate-kv-scales"}).warnings, "no effect without --kv-cache-dtype fp8"));
}

// vLLM's parallelism flags: tensor and expert parallel on one node are served; more than one
// node, pipeline stages and Ray are listed as what rotor cannot run (a start fails with the
// line); nonsense values fail at once.
TEST(ServeArgs, ParallelFlags) {
  ServeConfig c = resolve({"--tensor-parallel-size", "4", "--enable-expert-parallel", "--distributed-executor-backend",
                           "mp", "--nnodes", "1", "--node-rank", "0", "--master-addr", "127.0.0.1", "--master-port",
                           "29500"});
  EXPECT_TRUE(c.unsupported.empty()) << c.unsupported.front();
  EXPECT_EQ(c.args.parallel.tensor_parallel_size, 4);
  EXPECT_TRUE(c.args.parallel.enable_expert_parallel);
  EXPECT_EQ(c.to_json()["parallel"]["enable_expert_parallel"], true);
  EXPECT_TRUE(contains(resolve({"--pipeline-parallel-size", "2"}).unsupported,
                       "--pipeline-parallel-size 2: rotor has no pipeline parallelism"));
  EXPECT_TRUE(contains(resolve({"-pp", "2"}).unsupported, "--pipeline-parallel-size 2"));
  EXPECT_TRUE(contains(resolve({"--nnodes", "2", "--node-rank", "1", "--master-addr", "10.0.0.1"}).unsupported,
                       "--nnodes 2: rotor runs on one node"));
  EXPECT_TRUE(contains(resolve({"--distributed-executor-backend", "ray"}).unsupported,
                       "--distributed-executor-backend ray: rotor runs one process per node"));
  EXPECT_TRUE(contains(resolve({"-tp", "2", "--distributed-executor-backend", "uni"}).unsupported, "uni runs one rank"));
  EXPECT_TRUE(contains({error_of({"--node-rank", "1"})}, "--node-rank 1 of --nnodes 1"));
  EXPECT_TRUE(contains({error_of({"--distributed-executor-backend", "threads"})}, "--distributed-executor-backend"));
  EXPECT_TRUE(contains({error_of({"--pipeline-parallel-size", "0"})}, "--pipeline-parallel-size"));
}

TEST(ServeArgs, HfOverridesReachTheConfig) {
  // Qwen3's documented way past 32k: YaRN through the config (vLLM: --hf-overrides, older --rope-scaling).
  const std::string yarn = R"({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096})";
  EXPECT_TRUE(contains({error_of({kTiny, "--max-model-len", "16k"})}, "model's context (4096"));
  ServeConfig c = resolve({kTiny, "--hf-overrides", R"({"rope_scaling": )" + yarn + "}", "--max-model-len", "16K"});
  EXPECT_EQ(c.model_max_len, 16384);
  EXPECT_EQ(c.args.engine.max_model_len, 16384);
  EXPECT_EQ(c.hf_overrides["rope_scaling"]["rope_type"], "yarn");
  c = resolve({kTiny, "--rope-scaling", yarn});
  EXPECT_EQ(c.model_max_len, 16384);
  EXPECT_EQ(c.to_json()["load"]["hf_overrides"]["rope_scaling"]["factor"], 4.0);
}

TEST(ServeArgs, TransportFlagsResolved) {
  const ServeConfig c = resolve({"--allowed-origins", R"(["https://a.example"])", "--allow-credentials",
                                 "--root-path", "/v1-proxy/"});
  EXPECT_TRUE(c.unsupported.empty());
  EXPECT_EQ(c.frontend["cors"]["allowed_origins"][0], "https://a.example");
  EXPECT_EQ(c.frontend["cors"]["allowed_methods"][0], "*");
  EXPECT_EQ(c.frontend["cors"]["allow_credentials"], true);
  EXPECT_EQ(c.frontend["root_path"], "/v1-proxy");
  EXPECT_TRUE(contains({error_of({"--ssl-ca-certs", "/etc/hostname"})}, "needs --ssl-certfile"));
  EXPECT_TRUE(resolve({"--scheduling-policy", "priority"}).args.engine.priority_scheduling);
  EXPECT_FALSE(resolve({}).args.engine.priority_scheduling);
}

TEST(ServeArgs, VllmFlagsRotorLacksFailWithOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--speculative-config", R"({"method": "mtp"})"}, "--speculative-config: rotor has no speculative decoding"},
      {{"--swap-space", "16"}, "--swap-space: rotor preempts by recomputation"},
      {{"--enable-eplb"}, "--enable-eplb: rotor's expert parallelism (--enable-expert-parallel) holds whole experts"},
      {{"--no-enable-lora"}, "--enable-lora: rotor serves the base model only"},
      {{"--lora-modules", "a=/x", "b=/y"}, "--lora-modules"},
      {{"--model-impl", "transformers"}, "--model-impl transformers"},
      {{"--num-scheduler-steps", "8"}, "--num-scheduler-steps 8"},
  };
  for (const auto& [argv, part] : cases) {
    const std::string e = error_of(argv);
    EXPECT_NE(e.find(part), std::string::npos) << argv[0] << " -> " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  // Values that ask for what rotor does are accepted.
  EXPECT_NO_THROW(resolve({"--model-impl", "auto", "--num-scheduler-steps", "1", "--api-server-count", "1"}));
}

TEST(ServeArgs, HttpFlagsAndSeveralApiKeys) {
  const ServeConfig d = resolve({});
  EXPECT_EQ(d.args.max_waiting_requests, 2048);
  EXPECT_EQ(d.args.max_connections, 4096);
  EXPECT_EQ(d.args.max_request_body_bytes, 8 << 20);
  const ServeConfig c = resolve({"--api-key", "k1", "k2", "--max-waiting-requests", "7", "--max-connections", "99",
                                 "--max-request-body-bytes", "65536", "--timeout-keep-alive", "2.5",
                                 "--timeout-read", "9"});
  EXPECT_EQ(c.args.api_key, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(c.args.max_waiting_requests, 7);
  EXPECT_EQ(c.args.max_connections, 99);
  EXPECT_EQ(c.args.max_request_body_bytes, 65536);
  EXPECT_EQ(c.args.timeout_keep_alive, 2.5);
  EXPECT_EQ(c.args.timeout_read, 9);
  EXPECT_EQ(c.to_json()["http"]["max_waiting_requests"], 7);
  EXPECT_EQ(c.to_json()["api_key"], "set");
}

TEST(ServeArgs, UnknownFlagIsAParseError) {
  EXPECT_THROW(parse({"--no-such-flag"}), CLI::ParseError);
  EXPECT_THROW(parse({"--port", "eighty"}), CLI::ParseError);
}

}  // namespace
}  // namespace rotor::app
