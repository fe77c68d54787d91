// apps/generate.cpp — `rotor generate`: prompts (token ids, text, or chat messages through the
// chat template) submitted together to an Engine (scheduler, KV block manager, the engine
// flags), printing the generated text (ids for --prompt-ids) or one JSON object per prompt.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/commands.h"
#include "apps/engine_args.h"
#include "apps/parallel_args.h"
#include "core/check.h"
#include "core/hash_rng.h"
#include "core/log.h"
#include "engine/runner/kv_cache.h"
#include "engine/runner/rank_set.h"
#include "engine/runner_factory.h"
#include "engine/runner/compilation_config.h"
#include "engine/runner/model_runner.h"
#include "hub/resolve.h"
#include "model/load_model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace rotor::app {
namespace {

struct GenerateArgs {
  std::string model;  // a directory, a config.json (dummy) or a hub id Org/Name
  hub::HubOptions hub;
  LoadOptions load;
  EngineConfig engine;
  ParallelArgs parallel;
  std::vector<std::string> prompt_ids;
  std::vector<std::string> prompts;
  std::vector<std::string> messages_files;
  int max_tokens = 16;
  float temperature = 0.0f;
  float top_p = 1.0f;
  int top_k = 0;
  float min_p = 0.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  float repetition_penalty = 1.0f;
  int64_t seed = 0;
  bool ignore_eos = false;
  std::string output = "text";
  std::string device = "auto";
  bool max_model_len_given = false;
  bool max_num_seqs_given = false;
  bool budget_given = false;
  bool kv_bytes_given = false;
  bool utilization_given = false;
  std::string compilation_config = R"({"cudagraph_mode": "FULL_DECODE_ONLY"})";
};

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      ROTOR_CHECK(used == item.size() && v >= 0 && v <= INT32_MAX, "");
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      ROTOR_FAIL("--prompt-ids: '{}' is not a token id (expected comma-separated integers)", item);
    }
  }
  ROTOR_CHECK(!ids.empty(), "--prompt-ids: empty prompt");
  return ids;
}

// The model directory's tokenizer (and chat template), else the embedded Qwen3 one.
struct TextSide {
  std::shared_ptr<const Tokenizer> tokenizer;
  std::shared_ptr<const ChatTemplate> chat_template;
};

TextSide load_text_side(const std::string& model) {
  const std::filesystem::path dir(model);
  if (std::filesystem::is_directory(dir) && std::filesystem::exists(dir / "tokenizer.json"))
    return {Tokenizer::from_file(dir / "tokenizer.json"), ChatTemplate::from_dir(dir)};
  return {Tokenizer::embedded_qwen3(), ChatTemplate::embedded_qwen3()};
}

// A --messages file: a list of messages, or {"messages", "tools", "add_generation_prompt",
// "kwargs"} (add_generation_prompt defaults to true here: the model is to answer).
std::string render_messages_file(const std::string& path, const ChatTemplate& tmpl) {
  std::ifstream f(path, std::ios::binary);
  ROTOR_CHECK(f.good(), "--messages: cannot open {}", path);
  std::stringstream ss;
  ss << f.rdbuf();
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    ROTOR_FAIL("--messages {}: not valid JSON: {}", path, e.what());
  }
  nlohmann::ordered_json req = j.is_array() ? nlohmann::ordered_json{{"messages", j}} : j;
  ROTOR_CHECK(req.is_object(), "--messages {}: expected a list of messages or an object with \"messages\"", path);
  if (!req.contains("add_generation_prompt")) req["add_generation_prompt"] = true;
  return tmpl.render_request(req);
}

void run(GenerateArgs a) {
  a.hub.weights = a.load.load_format != "dummy";
  a.load.model = hub::resolve_model(a.model, a.hub);
  ROTOR_CHECK(!a.prompt_ids.empty() || !a.prompts.empty() || !a.messages_files.empty(),
              "give at least one --prompt-ids, --prompt or --messages");
  ROTOR_CHECK(a.max_tokens >= 1, "--max-tokens must be at least 1");
  ROTOR_CHECK(a.output == "json" || a.output == "text", "--output must be json or text");
  // Prompts in order: --prompt-ids, then --prompt texts, then --messages files.
  std::vector<std::vector<int32_t>> prompts;
  std::vector<bool> from_text;
  for (const std::string& p : a.prompt_ids) {
    prompts.push_back(parse_ids(p));
    from_text.push_back(false);
  }
  TextSide text;
  if (!a.prompts.empty() || !a.messages_files.empty()) {
    text = load_text_side(a.load.model);
    for (const std::string& p : a.prompts) prompts.push_back(text.tokenizer->encode(p));
    for (const std::string& path : a.messages_files) {
      ROTOR_CHECK(text.chat_template != nullptr, "--messages: the model has no chat template");
      prompts.push_back(text.tokenizer->encode(render_messages_file(path, *text.chat_template)));
    }
    from_text.resize(prompts.size(), true);
  }
  int longest = 0, total = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    ROTOR_CHECK(!prompts[i].empty(), "prompt {} is empty", i + 1);
    longest = std::max(longest, static_cast<int>(prompts[i].size()));
    total += static_cast<int>(prompts[i].size());
  }
  const CompilationConfig cc = parse_compilation_config(a.compilation_config);
  const std::vector<std::string> unsupported = check_parallel(a.parallel);
  if (!unsupported.empty()) ROTOR_FAIL("{}", unsupported.front());
  ROTOR_CHECK(a.engine.prefill_lane_sms >= 0, "--prefill-lane-sms must be at least 0 (0: no prefill lane)");
  RankSet ranks({a.device, a.parallel.tensor_parallel_size, a.parallel.enable_expert_parallel, false,
                 a.engine.prefill_lane_sms});
  // --prefill-lane-sms: a second set of ranks beside these computes the prompts.
  std::unique_ptr<RankSet> lane = a.engine.prefill_lane_sms > 0 ? std::make_unique<RankSet>(ranks.beside()) : nullptr;
  const bool cpu = ranks.ops(0).device().is_cpu();
  ROTOR_CHECK(!a.utilization_given || !cpu, "--gpu-memory-utilization needs a GPU (--device cuda)");
  a.engine.cuda_graphs = cc.cuda_graphs && !cpu;  // graphs exist only on the GPU
  a.engine.cuda_graph_sizes = cc.capture_sizes;
  RankSet::Loaded m = ranks.load(a.load);
  std::fprintf(stderr, "parameters: %lld (full model)\n", static_cast<long long>(m.full_parameter_count));
  // Unless given, size the engine and its KV cache for these prompts (the same results,
  // smaller buffers); --gpu-memory-utilization sizes the KV cache from the GPU's memory.
  if (!a.max_model_len_given) a.engine.max_model_len = std::min(m.config.max_context_len(), longest + a.max_tokens);
  if (!a.max_num_seqs_given) a.engine.max_num_seqs = std::min<int>(a.engine.max_num_seqs, prompts.size());
  if (!a.budget_given) a.engine.max_num_batched_tokens = std::min(a.engine.max_num_batched_tokens, total);
  if (!a.kv_bytes_given && !a.utilization_given) {
    // Blocks for every prompt at full length at once (at least one max_model_len).
    const int bs = a.engine.block_size;
    ROTOR_CHECK(bs >= 1, "--block-size must be at least 1");
    int64_t blocks = 0;
    for (const auto& p : prompts) blocks += (static_cast<int64_t>(p.size()) + a.max_tokens + bs - 1) / bs;
    const int len = a.engine.max_model_len > 0 ? a.engine.max_model_len : m.config.max_context_len();
    blocks = std::max<int64_t>(blocks, (len + bs - 1) / bs);
    a.engine.kv_cache_memory_bytes =
        blocks *
        static_cast<int64_t>(ModelRunner::kv_block_bytes(
            m.config, m.weights[0].shard, bs, KvCache::kv_dtype(ranks.ops(0), parse_kv_cache_dtype(a.engine.kv_cache_dtype))));
  }
  RunnerFactory factory(m.config, ranks, std::move(m.weights), lane.get());
  std::unique_ptr<Engine> engine = Engine::create(a.engine, factory);

  const auto t0 = Clock::now();
  std::vector<RequestHandle> handles;
  for (size_t i = 0; i < prompts.size(); ++i) {
    EngineRequest r;
    r.prompt_token_ids = prompts[i];
    SamplingParams& p = r.params;
    p.temperature = a.temperature;
    p.top_p = a.top_p;
    p.top_k = a.top_k;
    p.min_p = a.min_p;
    p.presence_penalty = a.presence_penalty;
    p.frequency_penalty = a.frequency_penalty;
    p.repetition_penalty = a.repetition_penalty;
    p.seed = static_cast<int64_t>(hash3(static_cast<uint64_t>(a.seed), i, 0));
    p.max_tokens = a.max_tokens;
    p.ignore_eos = a.ignore_eos;
    r.prompt_argmax = a.output == "json";
    handles.push_back(engine->submit(std::move(r)));
  }
  std::vector<RequestOutput> results;
  for (RequestHandle& h : handles) results.push_back(h.wait());
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  const EngineStats st = engine->stats();
  // Decode: the tokens after each first one, over the time from the first first token on.
  Clock::time_point first = Clock::time_point::max(), last = t0;
  int64_t decode_tokens = 0;
  for (const RequestOutput& o : results) {
    if (!o.times.first_token || !o.times.finished) continue;
    first = std::min(first, *o.times.first_token);
    last = std::max(last, *o.times.finished);
    decode_tokens += std::max(o.num_output_tokens - 1, 0);
  }
  const double decode_s = first < last ? std::chrono::duration<double>(last - first).count() : 0.0;
  ROTOR_LOG_INFO("{} prompts: {} prompt + {} generated tokens in {:.3f} s, {} steps; prefill: mean TTFT {:.3f} s; "
                 "decode: {} tokens in {:.3f} s ({:.1f} tok/s)",
                 prompts.size(), st.prompt_tokens, st.generation_tokens, dt, st.num_steps,
                 st.ttft.sum / std::max<uint64_t>(st.ttft.count, 1), decode_tokens, decode_s,
                 decode_tokens / std::max(decode_s, 1e-9));
  for (size_t i = 0; i < results.size(); ++i) {
    const RequestOutput& o = results[i];
    ROTOR_CHECK(o.finish_reason != FinishReason::Error, "generate: {}", o.error);
    if (a.output == "json") {
      nlohmann::json j{{"prompt_ids", prompts[i]},
                       {"prompt_argmax", o.prompt_argmax},
                       {"output_ids", o.token_ids},
                       {"finish_reason", finish_reason_name(o.finish_reason)}};
      if (from_text[i]) j["text"] = text.tokenizer->decode(o.token_ids, true);
      std::printf("%s\n", j.dump().c_str());
    } else if (from_text[i]) {  // the generated text, special tokens left out
      std::printf("%s\n", text.tokenizer->decode(o.token_ids, true).c_str());
    } else {
      std::string s;
      for (size_t k = 0; k < o.token_ids.size(); ++k) s += (k ? "," : "") + std::to_string(o.token_ids[k]);
      std::printf("%s\n", s.c_str());
    }
  }
}

}  // namespace

void add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* c =
      app.add_subcommand("generate", "Generate tokens from prompts (ids, text or chat messages) through the engine");
  c->add_option("model", a->model,
                "Model directory, hub id Org/Name (through the Hugging Face cache), or config.json with "
                "--load-format dummy")
      ->required();
  c->add_option("--revision", a->hub.revision, "Hub model: branch, tag or commit (default main)");
  c->add_option("--download-dir", a->hub.download_dir, "Hub model: the Hugging Face cache directory to use");
  c->add_option("--hf-token", a->hub.token, "Hub model: access token (default: $HF_TOKEN)");
  c->add_option("--hf-overrides", a->load.hf_overrides, "JSON object merged into config.json");
  c->add_option("--prompt-ids", a->prompt_ids, "Comma-separated prompt token ids (repeat for several prompts)")
      ->take_all();
  c->add_option("--prompt", a->prompts, "Prompt text, tokenized with the model's tokenizer (else the embedded Qwen3 one); "
                                        "repeat for several prompts")
      ->take_all();
  c->add_option("--messages", a->messages_files,
                "JSON file of chat messages (or {\"messages\", \"tools\", \"kwargs\", ...}) rendered with the chat template")
      ->take_all();
  c->add_option("--max-tokens", a->max_tokens, "Tokens to generate per prompt")->capture_default_str();
  c->add_option("--temperature", a->temperature, "0 = greedy")->capture_default_str();
  c->add_option("--top-p", a->top_p)->capture_default_str();
  c->add_option("--top-k", a->top_k)->capture_default_str();
  c->add_option("--min-p", a->min_p)->capture_default_str();
  c->add_option("--presence-penalty", a->presence_penalty)->capture_default_str();
  c->add_option("--frequency-penalty", a->frequency_penalty)->capture_default_str();
  c->add_option("--repetition-penalty", a->repetition_penalty)->capture_default_str();
  c->add_option("--seed", a->seed, "Seed of sampling and of dummy weights")->capture_default_str();
  c->add_flag("--ignore-eos", a->ignore_eos, "Do not stop at end-of-sequence tokens");
  c->add_option("--output", a->output, "text | json (json adds the argmax after every prompt token)")
      ->capture_default_str();
  c->add_option("--load-format", a->load.load_format, "auto | safetensors | dummy")->capture_default_str();
  c->add_option("--quantization,-q", a->load.quantization,
                "ascend | w8a8: the model is a W8A8 checkpoint (detected when not given)");
  c->add_option("--num-layers", a->load.num_layers, "Run only the first N layers");
  c->add_option("--device", a->device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  c->add_option("--compilation-config", a->compilation_config,
                "JSON: {\"cudagraph_mode\": \"FULL_DECODE_ONLY\" | \"NONE\"} (CUDA graphs for decode steps; GPU only)")
      ->capture_default_str();
  add_engine_options(c, a->engine);
  add_parallel_flags(*c, a->parallel);
  c->callback([a, c] {
    a->load.seed = static_cast<uint64_t>(a->seed);
    a->max_model_len_given = c->count("--max-model-len") > 0;
    a->max_num_seqs_given = c->count("--max-num-seqs") > 0;
    a->budget_given = c->count("--max-num-batched-tokens") > 0;
    a->kv_bytes_given = c->count("--kv-cache-memory-bytes") > 0;
    a->utilization_given = c->count("--gpu-memory-utilization") > 0;
    run(*a);
  });
}

}  // namespace rotor::app
