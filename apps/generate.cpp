// apps/generate.cpp — `rotor generate`: prompts (token ids, text, or chat messages through the
// chat template) through the KV cache on one backend (engine/runner/offline_generate), printing
// the generated text (ids for --prompt-ids) or one JSON object per prompt.
#include <cstdio>
#include <fmt/ranges.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/commands.h"
#include "core/check.h"
#include "core/hash_rng.h"
#include "core/log.h"
#include "engine/runner/compilation_config.h"
#include "engine/runner/offline_generate.h"
#include "kernels/backend.h"
#include "model/load_model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace rotor::app {
namespace {

struct GenerateArgs {
  LoadOptions load;
  std::vector<std::string> prompt_ids;
  std::vector<std::string> prompts;
  std::vector<std::string> messages_files;
  int max_tokens = 16;
  float temperature = 0.0f;
  float top_p = 1.0f;
  int top_k = 0;
  int64_t seed = 0;
  int prefill_chunk = 0;
  bool ignore_eos = false;
  std::string output = "text";
  std::string device = "auto";
  double gpu_memory_utilization = 0.0;
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

void run(const GenerateArgs& a) {
  ROTOR_CHECK(!a.prompt_ids.empty() || !a.prompts.empty() || !a.messages_files.empty(),
              "give at least one --prompt-ids, --prompt or --messages");
  ROTOR_CHECK(a.max_tokens >= 1, "--max-tokens must be at least 1");
  ROTOR_CHECK(a.output == "json" || a.output == "text", "--output must be json or text");
  ROTOR_CHECK(a.temperature >= 0.0f, "--temperature must be >= 0");
  ROTOR_CHECK(a.gpu_memory_utilization >= 0.0 && a.gpu_memory_utilization <= 1.0,
              "--gpu-memory-utilization must be in [0, 1]");
  const CompilationConfig cc = parse_compilation_config(a.compilation_config);
  std::unique_ptr<Ops> ops = make_ops(a.device);
  ROTOR_CHECK(a.gpu_memory_utilization == 0.0 || !ops->device().is_cpu(),
              "--gpu-memory-utilization needs a GPU (--device cuda)");
  std::unique_ptr<Communicator> comm = make_local_comm();
  LoadedModel m = load_model(a.load, *ops);
  std::fprintf(stderr, "parameters: %lld (full model)\n", static_cast<long long>(m.full_parameter_count));

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
  std::vector<OfflineRequest> requests;
  int longest = 0, longest_prompt = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    OfflineRequest r;
    r.prompt = prompts[i];
    ROTOR_CHECK(!r.prompt.empty(), "prompt {} is empty", i + 1);
    for (int32_t id : r.prompt)
      ROTOR_CHECK(id < m.config.vocab_size, "--prompt-ids: token {} outside the vocabulary ({})", id,
                  m.config.vocab_size);
    r.params.temperature = a.temperature;
    r.params.top_p = a.top_p;
    r.params.top_k = a.top_k;
    r.seed = hash3(static_cast<uint64_t>(a.seed), i, 0);
    r.max_tokens = a.max_tokens;
    r.ignore_eos = a.ignore_eos;
    r.prompt_argmax = a.output == "json";
    longest = std::max(longest, static_cast<int>(r.prompt.size()) + a.max_tokens);
    longest_prompt = std::max(longest_prompt, static_cast<int>(r.prompt.size()));
    requests.push_back(std::move(r));
  }
  RunnerOptions ro;
  ro.num_blocks = offline_blocks_needed(requests, ro.block_size);
  ro.max_model_len = longest;
  ro.max_num_seqs = static_cast<int>(requests.size());
  const int chunk = a.prefill_chunk > 0 ? std::min(a.prefill_chunk, longest_prompt) : longest_prompt;
  ro.max_num_tokens = static_cast<int>(requests.size()) * chunk;
  ro.gpu_memory_utilization = a.gpu_memory_utilization;
  ro.cuda_graphs = cc.cuda_graphs && !ops->device().is_cpu();  // graphs exist only on the GPU
  ro.graph_batch_sizes = cc.capture_sizes;
  ModelRunner runner(*ops, *comm, m.config, std::move(m.weights), ro);
  ROTOR_LOG_INFO("KV cache: {} blocks of {} tokens; CUDA graphs for decode batch sizes: {}", runner.options().num_blocks,
                 runner.options().block_size,
                 runner.options().cuda_graphs ? fmt::format("{}", fmt::join(runner.options().graph_batch_sizes, ", "))
                                              : std::string("off"));
  OfflineStats st;
  const std::vector<OfflineResult> results = generate_offline(runner, requests, a.prefill_chunk, m.config.eos_token_ids, &st);
  ROTOR_LOG_INFO("prefill: {} tokens in {:.3f} s ({:.1f} tok/s); decode: {} tokens in {:.3f} s ({:.1f} tok/s)",
                 st.prefill_tokens, st.prefill_seconds, st.prefill_tokens / std::max(st.prefill_seconds, 1e-9),
                 st.decode_tokens, st.decode_seconds, st.decode_tokens / std::max(st.decode_seconds, 1e-9));
  for (size_t i = 0; i < results.size(); ++i) {
    if (a.output == "json") {
      nlohmann::json j{{"prompt_ids", requests[i].prompt},
                       {"prompt_argmax", results[i].prompt_argmax},
                       {"output_ids", results[i].output}};
      if (from_text[i]) j["text"] = text.tokenizer->decode(results[i].output, true);
      std::printf("%s\n", j.dump().c_str());
    } else if (from_text[i]) {  // the generated text, special tokens left out
      std::printf("%s\n", text.tokenizer->decode(results[i].output, true).c_str());
    } else {
      std::string s;
      for (size_t k = 0; k < results[i].output.size(); ++k) s += (k ? "," : "") + std::to_string(results[i].output[k]);
      std::printf("%s\n", s.c_str());
    }
  }
}

}  // namespace

void add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* c = app.add_subcommand("generate", "Generate tokens from prompts (ids, text or chat messages) through the KV cache");
  c->add_option("model", a->load.model, "Model directory (or config.json with --load-format dummy)")->required();
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
  c->add_option("--seed", a->seed, "Seed of sampling and of dummy weights")->capture_default_str();
  c->add_option("--prefill-chunk", a->prefill_chunk, "Prefill at most N prompt tokens per step (0 = all)");
  c->add_flag("--ignore-eos", a->ignore_eos, "Do not stop at end-of-sequence tokens");
  c->add_option("--output", a->output, "text | json")->capture_default_str();
  c->add_option("--load-format", a->load.load_format, "auto | safetensors | dummy")->capture_default_str();
  c->add_option("--quantization,-q", a->load.quantization,
                 "ascend | w8a8: the model is a W8A8 checkpoint (detected when not given)");
  c->add_option("--num-layers", a->load.num_layers, "Run only the first N layers");
  c->add_option("--device", a->device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  c->add_option("--gpu-memory-utilization", a->gpu_memory_utilization,
                "Share of GPU memory for weights, activations and KV cache (0 = a KV cache just for the prompts)")
      ->capture_default_str();
  c->add_option("--compilation-config", a->compilation_config,
                "JSON: {\"cudagraph_mode\": \"FULL_DECODE_ONLY\" | \"NONE\"} (CUDA graphs for decode steps; GPU only)")
      ->capture_default_str();
  c->callback([a] {
    a->load.seed = static_cast<uint64_t>(a->seed);
    run(*a);
  });
}

}  // namespace rotor::app
