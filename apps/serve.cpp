// apps/serve.cpp — `rotor serve [MODEL_DIR]`: vLLM's command line (apps/serve_args.h); loads
// the model (or builds the embedded default), the tokenizer and chat template, starts the
// Engine and the OpenAI server, and stops cleanly on SIGINT/SIGTERM. --dry-run prints the
// resolved configuration as JSON instead.
#include <pthread.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "apps/commands.h"
#include "apps/default_model.h"
#include "apps/serve_args.h"
#include "apps/stats_logger.h"
#include "core/check.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/runner/rank_set.h"
#include "engine/runner_factory.h"
#include "model/load_model.h"
#include "server/server.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/embedded.h"
#include "tokenizer/tokenizer.h"

namespace rotor::app {
namespace {
namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  ROTOR_CHECK(f, "cannot read {}", p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The directory whose tokenizer.json to use ("" = the embedded Qwen3 tokenizer).
fs::path tokenizer_dir(const ServeConfig& c) {
  if (!c.args.tokenizer.empty()) {
    ROTOR_CHECK(fs::exists(fs::path(c.args.tokenizer) / "tokenizer.json"), "--tokenizer: no tokenizer.json in {}",
                c.args.tokenizer);
    return c.args.tokenizer;
  }
  if (!c.embedded_default && fs::is_directory(c.model_dir) && fs::exists(fs::path(c.model_dir) / "tokenizer.json"))
    return c.model_dir;
  if (!c.embedded_default)
    ROTOR_LOG_WARN("no tokenizer.json in {}: using the embedded Qwen3 tokenizer", c.args.model);
  return {};
}

// --chat-template FILE, else the tokenizer directory's (or the embedded Qwen3) template.
std::shared_ptr<const ChatTemplate> load_chat_template(const ServeConfig& c, const fs::path& tok_dir) {
  std::shared_ptr<const ChatTemplate> t;
  if (!c.args.chat_template.empty()) {
    std::string config_json = "{}";
    if (tok_dir.empty()) config_json = embedded::qwen3_tokenizer_config_json();
    else if (fs::exists(tok_dir / "tokenizer_config.json")) config_json = read_file(tok_dir / "tokenizer_config.json");
    t = ChatTemplate::from_tokenizer_config(config_json, read_file(c.args.chat_template));
  } else {
    t = tok_dir.empty() ? ChatTemplate::embedded_qwen3() : ChatTemplate::from_dir(tok_dir);
  }
  if (!t) ROTOR_LOG_WARN("no chat template: /v1/chat/completions answers 400 (give --chat-template FILE)");
  return t;
}

server::SamplingDefaults sampling_defaults(const ServeConfig& c) {
  fs::path dir;
  if (c.args.generation_config == "auto" && !c.embedded_default && fs::is_directory(c.model_dir)) dir = c.model_dir;
  else if (c.args.generation_config != "auto" && c.args.generation_config != "vllm") dir = c.args.generation_config;
  if (dir.empty() || !fs::exists(dir / "generation_config.json")) return {};
  const auto j = server::json::parse(read_file(dir / "generation_config.json"), nullptr, false);
  ROTOR_CHECK(!j.is_discarded(), "{}: not valid JSON", (dir / "generation_config.json").string());
  return server::SamplingDefaults::from_generation_config(j);
}

// Every rank's shard of the model, each made on its rank's thread.
RankSet::Loaded load(const ServeConfig& c, RankSet& ranks) {
  if (!c.embedded_default) {
    LoadOptions o;
    o.model = c.model_dir;
    o.hf_overrides = c.hf_overrides.empty() ? "" : c.hf_overrides.dump();
    o.load_format = c.args.load_format;
    o.quantization = c.args.quantization == "none" ? "auto" : c.args.quantization;
    o.num_layers = c.args.num_layers;
    o.seed = static_cast<uint64_t>(c.args.seed);
    return ranks.load(o);
  }
  ROTOR_LOG_INFO("no MODEL_DIR: serving the embedded default model (random weights, Qwen3 tokenizer)");
  RankSet::Loaded m;
  m.config = ModelConfig::from_json(default_model_config_json());
  m.full_parameter_count = m.config.parameter_count();
  const int n = ranks.world_size();
  m.weights = ranks.make_weights([&](int r, Ops& ops) {
    return dummy_weights(m.config, kDefaultModelSeed, ops, ShardSpec::make(m.config, r, n, ranks.expert_parallel()));
  });
  return m;
}

// Raises the soft limit on open files to the hard one and returns the connection cap that
// fits in it (a listening server needs one descriptor per connection, and some to spare).
int connection_cap(int wanted) {
  constexpr rlim_t kSpare = 256;  // model files, pipes, the listening socket, ...
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return wanted;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  const rlim_t room = lim.rlim_cur > 2 * kSpare ? lim.rlim_cur - kSpare : lim.rlim_cur / 2;
  if (static_cast<rlim_t>(wanted) <= room) return wanted;
  ROTOR_LOG_WARN("--max-connections {}: only {} open files are allowed (ulimit -n); at most {} connections", wanted,
                 static_cast<uint64_t>(lim.rlim_cur), static_cast<uint64_t>(room));
  return static_cast<int>(room);
}

// SIGINT and SIGTERM go to one thread that stops the server (or, while the model is still
// loading, ends the process: there is nothing to drain yet). Blocks both signals in the
// calling thread, so construct it before any other thread starts.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // a client that went away is seen as a failed write
    thread_ = std::thread([this] { loop(); });
  }
  ~SignalWatcher() {
    watch(nullptr);
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }
  // From now on a signal stops `s` (nullptr: `s` is going away).
  void watch(server::Server* s) {
    std::lock_guard lock(mu_);
    server_ = s;
    started_ = started_ || s;
  }

 private:
  void loop() {
    int sig = 0;
    sigwait(&set_, &sig);
    if (done_) return;
    const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    {
      std::lock_guard lock(mu_);
      if (!started_) {
        ROTOR_LOG_INFO("{} while starting: exiting", name);
        std::_Exit(1);
      }
    }
    ROTOR_LOG_INFO("{}: shutting down", name);
    // A stop() that comes before run() starts listening is lost: repeat until serving ends.
    while (!done_) {
      {
        std::lock_guard lock(mu_);
        if (!server_) return;
        server_->stop();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  sigset_t set_;
  std::mutex mu_;
  server::Server* server_ = nullptr;
  bool started_ = false;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

void run(const ServeArgs& args) {
  // Before anything starts a thread: resolving --device initialises the CUDA runtime, whose
  // threads would otherwise take SIGTERM with its default action.
  SignalWatcher signals;
  const ServeConfig config = resolve_serve_config(args, /*allow_download=*/!args.dry_run);
  if (args.dry_run) {
    std::printf("%s\n", config.to_json().dump(2).c_str());
    return;
  }
  for (const std::string& w : config.warnings) ROTOR_LOG_WARN("{}", w);
  if (!config.unsupported.empty()) {
    std::string all;
    for (const std::string& u : config.unsupported) all += (all.empty() ? "" : "; ") + u;
    ROTOR_FAIL("cannot serve this configuration yet: {}", all);
  }

  const ServeArgs& a = config.args;
  // A thread, a backend and a communicator per tensor-parallel rank (one rank: this thread).
  // enable_cpu_binding: each rank's thread, and this one with every thread started from here
  // on (the engine's loop and workers, the HTTP pool), run on the cores nearest their GPU.
  RankSet ranks({config.device, a.parallel.tensor_parallel_size, a.parallel.enable_expert_parallel,
                 config.enable_cpu_binding, a.engine.prefill_lane_sms});
  // --prefill-lane-sms: a second set of ranks beside these computes the prompts.
  std::unique_ptr<RankSet> lane = a.engine.prefill_lane_sms > 0 ? std::make_unique<RankSet>(ranks.beside()) : nullptr;
  RankSet::Loaded model = load(config, ranks);
  const fs::path tok_dir = tokenizer_dir(config);
  std::shared_ptr<const Tokenizer> tokenizer =
      tok_dir.empty() ? Tokenizer::embedded_qwen3() : Tokenizer::from_file(tok_dir / "tokenizer.json");
  if (tokenizer->vocab_size() > model.config.vocab_size)
    ROTOR_LOG_WARN("the tokenizer has {} ids, the model's vocabulary {}", tokenizer->vocab_size(),
                   model.config.vocab_size);
  std::shared_ptr<const ChatTemplate> chat_template = load_chat_template(config, tok_dir);

  EngineConfig engine_config = a.engine;
  engine_config.cuda_graphs = config.cudagraph_mode == "FULL_DECODE_ONLY" && !ranks.ops(0).device().is_cpu();
  engine_config.cuda_graph_sizes = config.cudagraph_capture_sizes;
  RunnerFactory factory(model.config, ranks, std::move(model.weights), lane.get());
  std::unique_ptr<Engine> engine = Engine::create(engine_config, factory);
  server::ServerOptions so;
  so.http.host = a.host;
  so.http.port = a.port;
  so.http.max_connections = connection_cap(a.max_connections);
  so.http.max_body_bytes = a.max_request_body_bytes;
  so.http.timeout_keep_alive_s = a.timeout_keep_alive;
  so.http.timeout_read_s = a.timeout_read;
  const auto& cors = config.frontend["cors"];
  so.http.cors.allowed_origins = cors["allowed_origins"].get<std::vector<std::string>>();
  so.http.cors.allowed_methods = cors["allowed_methods"].get<std::vector<std::string>>();
  so.http.cors.allowed_headers = cors["allowed_headers"].get<std::vector<std::string>>();
  so.http.cors.allow_credentials = a.frontend.allow_credentials;
  so.http.tls = {a.frontend.ssl_keyfile, a.frontend.ssl_certfile, a.frontend.ssl_ca_certs, a.frontend.ssl_cert_reqs};
  so.http.root_path = config.frontend["root_path"].get<std::string>();
  so.max_waiting_requests = a.max_waiting_requests;
  so.model_names = a.served_model_name;
  so.model_root = config.embedded_default ? std::string(kDefaultModelName) : a.model;
  so.api_keys = a.api_key;
  so.reasoning_parser = a.reasoning_parser == "qwen3";
  so.sampling_defaults = sampling_defaults(config);
  so.sampling_defaults.return_tokens_as_token_ids = a.frontend.return_tokens_as_token_ids;
  so.log_requests = a.frontend.enable_log_requests;
  so.max_log_len = a.frontend.max_log_len;
  so.prompt_tokens_details = a.frontend.enable_prompt_tokens_details;
  so.version = ROTOR_VERSION;
  server::Server server(*engine, tokenizer, chat_template, so);
  server.bind();
  ROTOR_LOG_INFO("serving {} on {}://{}:{}{} ({}, max_model_len {}, {} KV blocks of {} tokens)",
                 a.served_model_name.front(), so.http.tls.enabled() ? "https" : "http", a.host, server.port(),
                 so.http.root_path, ranks.world_size() > 1 ? fmt::format("{} ranks", ranks.world_size()) : ranks.where(0),
                 engine->limits().max_model_len, engine->limits().num_blocks, engine->limits().block_size);

  std::unique_ptr<StatsLogger> stats;
  if (!a.frontend.disable_log_stats) stats = std::make_unique<StatsLogger>(*engine, stats_interval_seconds());
  signals.watch(&server);
  server.run();
  signals.watch(nullptr);
  stats.reset();
  ROTOR_LOG_INFO("stopped");
}

}  // namespace

void add_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the OpenAI API (vLLM's flags)");
  add_serve_flags(*cmd, *args);
  cmd->callback([args] { run(*args); });
}

}  // namespace rotor::app
