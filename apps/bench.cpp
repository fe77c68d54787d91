// apps/bench.cpp — `rotor bench serve`: the load generator. Builds the prompts (random of an
// exact token count, or a jsonl file), runs warm-ups, then streams the measured requests to an
// OpenAI-compatible server and prints / writes the figures of ../shared/docs/BENCHMARK.md.
// The flags are vllm bench serve's; README.md maps them to evalscope perf's.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "apps/commands.h"
#include "loadgen/html_report.h"
#include "loadgen/http_client.h"
#include "loadgen/jsonl_dataset.h"
#include "loadgen/load_generator.h"
#include "loadgen/progress_line.h"
#include "loadgen/random_prompts.h"
#include "loadgen/result_json.h"
#include "loadgen/summary_table.h"
#include "loadgen/tokenizer_adapter.h"
#include "core/check.h"
#include "core/log.h"

namespace rotor::app {
namespace {

using namespace rotor::loadgen;

struct BenchArgs {
  std::string base_url = "http://127.0.0.1:8000";
  std::string endpoint = "chat";
  std::string model;
  std::string tokenizer;
  std::string dataset = "random";
  std::string dataset_path;
  int random_input_len = 1024;
  int random_output_len = 128;
  int jsonl_output_len = 0;  // 0: not sent unless the line has max_tokens
  int num_prompts = 1000;
  int max_concurrency = 0;  // 0: all prompts at once
  double request_rate = std::numeric_limits<double>::infinity();
  int num_warmups = 0;
  bool ignore_eos = false;
  double temperature = 0.0;
  std::optional<double> top_p;
  std::optional<int> top_k;
  std::string extra_body;
  int64_t seed = 0;
  std::string api_key;
  double timeout = 3600;
  std::string result_json;
  std::string report;
};

std::string command_line() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  while (!s.empty() && s.back() == '\0') s.pop_back();
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

std::string local_time_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  return buf;
}

void write_file(const std::string& path, const std::string& text, const char* what) {
  std::ofstream f(path, std::ios::binary);
  ROTOR_CHECK(f.good(), "{}: cannot write '{}'", what, path);
  f << text;
  ROTOR_CHECK(f.good(), "{}: writing '{}' failed", what, path);
}

// Random prompts 0 .. n-1, built on every core (each is encoded once more to check its length).
std::vector<Prompt> random_prompts(const BenchArgs& a, Endpoint endpoint, const nlohmann::json& extra_body, int n) {
  ROTOR_CHECK(a.random_input_len >= 1 && a.random_output_len >= 1,
              "--random-input-len and --random-output-len must be at least 1");
  if (a.tokenizer.empty()) ROTOR_LOG_INFO("no --tokenizer: counting with the embedded Qwen3 tokenizer");
  const auto kwargs = extra_body.is_object() && extra_body.contains("chat_template_kwargs")
                          ? extra_body["chat_template_kwargs"]
                          : nlohmann::json();
  const std::unique_ptr<PromptTokenizer> tok = load_prompt_tokenizer(a.tokenizer, kwargs);
  const RandomPromptBuilder builder(*tok);
  RandomPromptOptions o;
  o.input_len = a.random_input_len;
  o.output_len = a.random_output_len;
  o.seed = static_cast<uint64_t>(a.seed);
  o.endpoint = endpoint;
  std::vector<Prompt> out(static_cast<size_t>(n));
  std::vector<std::exception_ptr> errors(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < errors.size(); ++t)
    threads.emplace_back([&, t] {
      try {
        for (size_t i = t; i < out.size(); i += errors.size()) out[i] = builder.build(o, i);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

// The prompts: num_prompts measured ones, then num_warmups more for the warm-up.
std::vector<Prompt> build_prompts(const BenchArgs& a, Endpoint endpoint, const nlohmann::json& extra_body) {
  const int n = a.num_prompts + a.num_warmups;
  std::vector<Prompt> out;
  if (a.dataset == "random") {
    out = random_prompts(a, endpoint, extra_body, n);
  } else if (a.dataset == "jsonl") {
    ROTOR_CHECK(!a.dataset_path.empty(), "--dataset jsonl needs --dataset-path FILE");
    const std::vector<Prompt> all = load_jsonl(a.dataset_path, endpoint);
    if (static_cast<int>(all.size()) < n)
      ROTOR_LOG_WARN("{} has {} prompts; reusing them to make {}", a.dataset_path, all.size(), n);
    for (int i = 0; i < n; ++i) out.push_back(all[static_cast<size_t>(i) % all.size()]);
  } else {
    ROTOR_FAIL("--dataset: '{}' is not random or jsonl", a.dataset);
  }
  return out;
}

void run(const BenchArgs& a) {
  ROTOR_CHECK(!a.model.empty(), "--model is required (the model name the server serves)");
  ROTOR_CHECK(a.num_prompts >= 1, "--num-prompts must be at least 1");
  ROTOR_CHECK(a.num_warmups >= 0, "--num-warmups must be >= 0");
  ROTOR_CHECK(a.max_concurrency >= 0, "--max-concurrency must be >= 1");
  ROTOR_CHECK(a.request_rate > 0, "--request-rate must be positive (inf: all at once)");
  ROTOR_CHECK(a.timeout > 0, "--timeout must be positive");
  ROTOR_CHECK(a.jsonl_output_len >= 0, "--jsonl-output-len must be >= 0");
  const Endpoint endpoint = parse_endpoint(a.endpoint);
  const BaseUrl url = parse_base_url(a.base_url);
  const std::string path = endpoint_path(endpoint, url.prefix);

  RequestOptions ro;
  ro.model = a.model;
  ro.endpoint = endpoint;
  ro.max_tokens = a.dataset == "random" ? a.random_output_len : a.jsonl_output_len;
  ro.ignore_eos = a.ignore_eos;
  ro.temperature = a.temperature;
  ro.top_p = a.top_p;
  ro.top_k = a.top_k;
  if (!a.extra_body.empty()) {
    ro.extra_body = nlohmann::json::parse(a.extra_body, nullptr, /*allow_exceptions=*/false);
    ROTOR_CHECK(ro.extra_body.is_object(), "--extra-body must be a JSON object");
  }

  const auto t_prep = Clock::now();
  const std::vector<Prompt> prompts = build_prompts(a, endpoint, ro.extra_body);
  ROTOR_LOG_INFO("{} prompts ready in {:.2f} s", prompts.size(),
                 std::chrono::duration<double>(Clock::now() - t_prep).count());
  std::vector<Job> measured, warmups;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Job j{request_body(ro, prompts[i]), static_cast<int>(i), prompts[i].expected_prompt_tokens};
    (static_cast<int>(i) < a.num_prompts ? measured : warmups).push_back(std::move(j));
  }

  ClientOptions co;
  co.api_key = a.api_key;
  co.read_timeout_s = a.timeout;
  LoadOptions lo;
  lo.max_concurrency = a.max_concurrency > 0 ? a.max_concurrency : a.num_prompts;
  lo.request_rate = a.request_rate;
  lo.seed = static_cast<uint64_t>(a.seed);

  if (!warmups.empty()) {
    LoadOptions wo = lo;
    wo.request_rate = std::numeric_limits<double>::infinity();
    LiveCounters live;
    const auto t0 = Clock::now();
    std::vector<RequestRecord> w;
    {
      ProgressLine line(live, static_cast<int>(warmups.size()), "warm-up", t0);
      w = run_load(url, co, path, warmups, wo, t0, live);
    }
    const Summary ws = summarize(w);
    ROTOR_CHECK(ws.succeeded > 0, "every warm-up request failed: {}", w.front().error);
    if (ws.failed) ROTOR_LOG_WARN("{} of {} warm-up requests failed: {}", ws.failed, ws.total, ws.errors.begin()->first);
    ROTOR_LOG_INFO("warm-up: {} requests in {:.2f} s (not counted)", ws.total, ws.duration);
  }

  RunInfo info;
  info.base_url = a.base_url;
  info.endpoint_path = path;
  info.model = a.model;
  info.dataset = a.dataset;
  info.dataset_path = a.dataset_path;
  info.tokenizer = a.tokenizer;
  info.num_prompts = a.num_prompts;
  info.max_concurrency = lo.max_concurrency;
  info.num_warmups = a.num_warmups;
  info.request_rate = a.request_rate;
  info.random_input_len = a.dataset == "random" ? a.random_input_len : 0;
  info.random_output_len = a.dataset == "random" ? a.random_output_len : 0;
  info.ignore_eos = a.ignore_eos;
  info.seed = static_cast<uint64_t>(a.seed);
  info.started_at = local_time_iso();
  info.command_line = command_line();

  LiveCounters live;
  const auto t0 = Clock::now();
  std::vector<RequestRecord> records;
  {
    ProgressLine line(live, a.num_prompts, "bench", t0);
    records = run_load(url, co, path, measured, lo, t0, live);
  }
  const Summary s = summarize(records);
  std::fputs(summary_table(info, s).c_str(), stdout);
  std::fflush(stdout);
  if (!a.result_json.empty()) write_file(a.result_json, result_json(info, s, records).dump(1) + "\n", "--result-json");
  if (!a.report.empty()) write_file(a.report, html_report(info, s, records), "--report");
  if (s.prompt_token_mismatches > 0)
    ROTOR_LOG_WARN("{} requests: the server counted a different prompt length than the {} tokens built",
                   s.prompt_token_mismatches, a.random_input_len);
  ROTOR_CHECK(s.failed == 0, "{} of {} requests failed (reasons in the table above)", s.failed, s.total);
}

}  // namespace

void add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  CLI::App* c = bench->add_subcommand("serve", "Load-test an OpenAI-compatible server (vllm bench serve's flags)");
  c->add_option("--base-url", a->base_url, "Server URL: http[s]://host:port[/prefix]")->capture_default_str();
  c->add_option("--endpoint", a->endpoint, "chat | completions")->capture_default_str();
  c->add_option("--model", a->model, "Model name sent in requests")->required();
  c->add_option("--tokenizer", a->tokenizer,
                "Directory with the server's tokenizer.json and tokenizer_config.json (random dataset; "
                "default: the embedded Qwen3 tokenizer)");
  c->add_option("--dataset", a->dataset, "random | jsonl")->capture_default_str();
  c->add_option("--dataset-path", a->dataset_path, "jsonl file: {\"prompt\": ...} or {\"messages\": [...]} per line");
  c->add_option("--random-input-len", a->random_input_len, "Prompt tokens per request (random)")->capture_default_str();
  c->add_option("--random-output-len", a->random_output_len, "max_tokens per request (random)")->capture_default_str();
  c->add_option("--jsonl-output-len", a->jsonl_output_len,
                "max_tokens for jsonl lines without their own (default: not sent)");
  c->add_option("--num-prompts", a->num_prompts, "Measured requests")->capture_default_str();
  c->add_option("--max-concurrency", a->max_concurrency, "Most requests in flight (default: all)");
  c->add_option("--request-rate", a->request_rate, "Poisson arrivals per second (default inf: all at once)");
  c->add_option("--num-warmups", a->num_warmups, "Warm-up requests before measuring (not counted)")
      ->capture_default_str();
  c->add_flag("--ignore-eos", a->ignore_eos, "Send ignore_eos: generate exactly max_tokens");
  c->add_option("--temperature", a->temperature, "Sampling temperature sent")->capture_default_str();
  c->add_option("--top-p", a->top_p, "top_p sent (default: not sent)");
  c->add_option("--top-k", a->top_k, "top_k sent (default: not sent)");
  c->add_option("--extra-body", a->extra_body, "JSON object merged into every request body");
  c->add_option("--seed", a->seed, "Seed of the random prompts and arrival times")->capture_default_str();
  c->add_option("--api-key", a->api_key, "Bearer token (default: $OPENAI_API_KEY)");
  c->add_option("--timeout", a->timeout, "Seconds of silence before a request fails")->capture_default_str();
  c->add_option("--result-json", a->result_json, "Write every figure and per-request record as JSON");
  c->add_option("--report", a->report, "Write a self-contained HTML report with charts");
  c->callback([a] {
    if (a->api_key.empty())
      if (const char* k = std::getenv("OPENAI_API_KEY")) a->api_key = k;
    run(*a);
  });
}

}  // namespace rotor::app
