// bench/host.cpp — rotor_bench_host: the engine's host time per step, no device. The engine
// loop's work is done in its order on one thread (Engine::loop, depth 2 with async scheduling:
// step N+1 is scheduled and prepared before step N's results are applied) and each phase is
// timed: the scheduler (schedule), the runner's prepare (ModelStepRunner::prepare over a CPU
// ModelRunner of a one-layer model with the Qwen3 vocabulary: the real host work), the
// scheduler's update from the results (update_from_output), the engine's bookkeeping of the
// updates (metrics, request streams) and the reader's output processing (the server's
// ChoiceStream: incremental detokenization with the embedded Qwen3 tokenizer and stop
// strings). The tokens come from sim_runner.h's model (its time is not counted: it stands for
// the device). Every request has the same prompt length and max_tokens and ignores eos, so a
// batch stays full until its requests finish together. Then the same requests through a real
// Engine (its loop, its step worker's threads, request streams) over the same runner with no
// device time, read by reader threads as the server's I/O threads read them (on_output wake-up,
// ChoiceStream): the step rate the host sustains, hand-offs between threads included; the
// simulated model's own time per step is shown beside it. With --http, the same again through
// the in-process HTTP server (src/server) with `batch` concurrent streaming completions clients
// (src/loadgen's, in this process): tokenizing, SSE JSON chunks, sockets.
// Run it with OMP_WAIT_POLICY=passive: the CPU runner's OpenMP threads otherwise spin on the
// cores the engine's threads need.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "apps/default_model.h"
#include "bench/sim_runner.h"
#include "comm/communicator.h"
#include "core/check.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/engine_metrics.h"
#include "engine/model_step_runner.h"
#include "engine/request_stream.h"
#include "engine/scheduler/scheduler.h"
#include "kernels/backend.h"
#include "loadgen/load_generator.h"
#include "loadgen/openai_stream.h"
#include "model/config.h"
#include "model/shard.h"
#include "model/weights.h"
#include "server/choice_stream.h"
#include "server/server.h"
#include "tokenizer/tokenizer.h"

namespace rotor {
namespace {

using BenchClock = std::chrono::steady_clock;

std::vector<int32_t> eos_ids(const ModelConfig& m) { return {m.eos_token_ids.begin(), m.eos_token_ids.end()}; }

// rotor serve's embedded model (apps/default_model.h) cut to one layer: the runner's host
// work depends on the vocabulary and the batch, not on the layers.
ModelConfig bench_model() {
  nlohmann::json config = app::default_model_config_json();
  config["num_hidden_layers"] = 1;
  return ModelConfig::from_json(config);
}

// The engine's runner here: the real host preparation (ModelStepRunner::prepare; the step is
// never launched) and sim_runner.h's tokens, at once: no device time.
class HostStepRunner final : public StepRunner {
 public:
  HostStepRunner(std::unique_ptr<ModelStepRunner> prep, int num_blocks, int block_size)
      : prep_(std::move(prep)), sim_(num_blocks, block_size, 0, false) {}
  std::unique_ptr<PreparedStep> prepare(const SchedulerOutput& out) override {
    auto step = std::make_unique<Step>();
    step->inputs = prep_->prepare(out);
    step->out = out;
    return step;
  }
  RunnerOutput execute(PreparedStep& step) override {
    const BenchClock::time_point t = BenchClock::now();
    RunnerOutput r = sim_.execute(static_cast<Step&>(step).out);
    sim_us_ += std::chrono::duration<double, std::micro>(BenchClock::now() - t).count();
    steps_.fetch_add(1, std::memory_order_release);
    return r;
  }
  int steps() const { return steps_.load(std::memory_order_acquire); }
  // The simulated model's own time (its checks of the simulated cache), read after the run.
  double sim_us() const { return sim_us_; }

 private:
  struct Step final : PreparedStep {
    SchedulerOutput out;
    std::unique_ptr<PreparedStep> inputs;
  };
  std::unique_ptr<ModelStepRunner> prep_;
  SimRunner sim_;  // the worker's completing thread's only
  std::atomic<int> steps_{0};
  double sim_us_ = 0;  // the completing thread's
};

struct Args {
  std::vector<int> batches{1, 8, 32, 200};
  int prompt = 128;
  int output = 256;
  int block_size = 16;
  int max_num_batched_tokens = 16384;
  std::vector<std::string> stop{"\n\nUser:", "</answer>"};
  int readers = 2;  // threads reading the request streams (the server's I/O threads)
  float repetition_penalty = 1.0f;  // every request's (1: none); with penalties a step carries each row's tokens
  bool http = false;  // also through the HTTP server
  int repeat = 5;  // runs of each configuration; the fastest is reported (the machine is shared)
};

// Accumulated microseconds of each phase over a run.
struct Phases {
  double schedule = 0, prepare = 0, update = 0, engine_out = 0, reader = 0;
  double engine() const { return schedule + prepare + update + engine_out; }
};

double us_since(BenchClock::time_point t) {
  return std::chrono::duration<double, std::micro>(BenchClock::now() - t).count();
}

struct Result {
  Phases total;
  int decode_steps = 0;   // steps of batch-size decodes (every request running, none prefilling)
  Phases decode;          // their share
  int steps = 0;
  int64_t tokens = 0;
};

// A one-rank ModelStepRunner over the CPU for `batch` requests of the benchmark's size.
std::unique_ptr<ModelStepRunner> prepare_runner(const Args& a, int batch, int num_blocks, Ops& ops, Communicator& comm,
                                                const ModelConfig& model) {
  RunnerOptions ro;
  ro.max_num_tokens = a.max_num_batched_tokens;
  ro.max_num_seqs = batch;
  ro.max_model_len = a.prompt + a.output;
  ro.block_size = a.block_size;
  ro.num_blocks = num_blocks;
  std::vector<std::unique_ptr<ModelRunner>> ranks;
  ranks.push_back(
      std::make_unique<ModelRunner>(ops, comm, model, dummy_weights(model, 1, ops, ShardSpec::make(model, 0, 1)), ro));
  return std::make_unique<ModelStepRunner>(std::move(ranks), nullptr, eos_ids(model));
}

std::vector<int32_t> prompt_of(const Args& a, int i) {
  std::vector<int32_t> p;
  for (int k = 0; k < a.prompt; ++k) p.push_back(1000 + (i * 7919 + k * 104729) % 100000);
  return p;
}

Result run(const Args& a, int batch, bool async, Ops& ops, Communicator& comm, const ModelConfig& model,
           const Tokenizer& tok) {
  const int max_model_len = a.prompt + a.output;
  const int blocks_per_seq = (max_model_len + a.block_size - 1) / a.block_size;
  const int num_blocks = batch * blocks_per_seq + 1;

  SchedulerConfig sc;
  sc.max_num_seqs = batch;
  sc.max_num_batched_tokens = a.max_num_batched_tokens;
  sc.max_model_len = max_model_len;
  sc.block_size = a.block_size;
  sc.num_blocks = num_blocks;
  sc.eos_token_ids = eos_ids(model);
  Scheduler sched(sc);
  std::unique_ptr<ModelStepRunner> owned = prepare_runner(a, batch, num_blocks, ops, comm, model);
  ModelStepRunner& runner = *owned;
  EngineMetrics metrics(num_blocks, a.block_size, max_model_len);
  SimRunner sim(num_blocks, a.block_size, 0, false);

  struct Live {
    std::shared_ptr<RequestStream> stream;
    RequestTimes times;
    server::ChoiceStream choice;
  };
  std::unordered_map<uint64_t, Live> live;
  server::ChoiceOptions co;
  co.stop = a.stop;
  for (int i = 0; i < batch; ++i) {
    Request r;
    r.id = static_cast<uint64_t>(i + 1);
    r.tokens = prompt_of(a, i);
    r.params.max_tokens = a.output;
    r.params.ignore_eos = true;
    r.params.repetition_penalty = a.repetition_penalty;
    r.max_tokens = a.output;
    r.seed = r.id;
    const BenchClock::time_point now = BenchClock::now();
    RequestTimes t;
    t.arrival = now;
    live.emplace(r.id, Live{std::make_shared<RequestStream>(r.id, a.prompt, now), t, server::ChoiceStream(tok, co)});
    sched.add_request(std::move(r));
  }

  struct InFlight {
    SchedulerOutput out;
    RunnerOutput res;
    bool decode = false;  // a full batch of decodes
  };
  std::deque<InFlight> in_flight;
  const size_t depth = async ? 2 : 1;
  Result res;
  const auto add = [&](double Phases::*phase, double us, bool decode) {
    res.total.*phase += us;
    if (decode) res.decode.*phase += us;
  };
  while (sched.has_work() || !in_flight.empty()) {
    bool stalled = false;
    if (in_flight.size() < depth && sched.has_decode_work()) {
      BenchClock::time_point t = BenchClock::now();
      SchedulerOutput out = sched.schedule();
      const bool decode = static_cast<int>(out.scheduled.size()) == batch && out.total_num_tokens == batch;
      add(&Phases::schedule, us_since(t), decode);
      if (out.empty()) {
        stalled = true;
      } else {
        t = BenchClock::now();
        metrics.step(out.total_num_tokens);
        std::unique_ptr<PreparedStep> prepared = runner.prepare(out);
        add(&Phases::prepare, us_since(t), decode);
        RunnerOutput r = sim.execute(out);
        res.decode_steps += decode;
        ++res.steps;
        in_flight.push_back({std::move(out), std::move(r), decode});
      }
    }
    if (in_flight.empty() || (in_flight.size() < depth && !stalled && sched.has_decode_work())) continue;
    InFlight f = std::move(in_flight.front());
    in_flight.pop_front();
    BenchClock::time_point t = BenchClock::now();
    std::vector<RequestUpdate> updates = sched.update_from_output(f.out, f.res);
    add(&Phases::update, us_since(t), f.decode);
    t = BenchClock::now();
    for (const RequestUpdate& u : updates) {
      Live& l = live.at(u.req_id);
      metrics.update(u, l.times, a.output, BenchClock::now());
    }
    metrics.publish(sched);
    for (const RequestUpdate& u : updates) live.at(u.req_id).stream->push(u, live.at(u.req_id).times);
    add(&Phases::engine_out, us_since(t), f.decode);
    t = BenchClock::now();
    for (const RequestUpdate& u : updates) {
      Live& l = live.at(u.req_id);
      std::optional<RequestOutput> o = l.stream->take(std::chrono::milliseconds(0));
      ROTOR_CHECK(o.has_value(), "request {}: no output after an update", u.req_id);
      res.tokens += static_cast<int64_t>(o->token_ids.size());
      const server::ChoiceDelta d = l.choice.push(*o);
      ROTOR_CHECK(!l.choice.stopped_by_string(), "request {}: the simulated text hit a stop string", u.req_id);
      (void)d;
    }
    add(&Phases::reader, us_since(t), f.decode);
  }
  ROTOR_CHECK(res.tokens == static_cast<int64_t>(batch) * a.output, "{} tokens generated, {} expected", res.tokens,
              static_cast<int64_t>(batch) * a.output);
  return res;
}

struct Threaded {
  double seconds = 0;
  double sim_us = 0;
  int steps = 0;
  int64_t tokens = 0;
};

// An Engine over a HostStepRunner (`counted`) for `batch` requests of the benchmark's size.
std::unique_ptr<Engine> make_engine(const Args& a, int batch, bool async, Ops& ops, Communicator& comm,
                                    const ModelConfig& model, HostStepRunner*& counted) {
  const int max_model_len = a.prompt + a.output;
  const int num_blocks = batch * ((max_model_len + a.block_size - 1) / a.block_size) + 1;
  EngineConfig ec;
  ec.block_size = a.block_size;
  ec.max_num_seqs = batch;
  ec.max_num_batched_tokens = a.max_num_batched_tokens;
  ec.max_model_len = max_model_len;
  ec.async_scheduling = async;
  EngineLimits lim;
  lim.max_model_len = max_model_len;
  lim.vocab_size = model.vocab_size;
  lim.num_blocks = num_blocks;
  lim.eos_token_ids = eos_ids(model);
  auto runner = std::make_unique<HostStepRunner>(prepare_runner(a, batch, num_blocks, ops, comm, model), num_blocks,
                                                 a.block_size);
  counted = runner.get();
  return std::make_unique<Engine>(ec, lim, std::move(runner));
}

// The same requests through an Engine; `readers` threads read the streams as the server's I/O
// threads do (woken by on_output, each output through a ChoiceStream).
Threaded run_engine(const Args& a, int batch, bool async, Ops& ops, Communicator& comm, const ModelConfig& model,
                    const Tokenizer& tok) {
  HostStepRunner* counted = nullptr;
  std::unique_ptr<Engine> engine = make_engine(a, batch, async, ops, comm, model, counted);
  struct Reader {
    std::mutex mu;
    std::condition_variable cv;
    bool woken = false;
    std::vector<RequestHandle> handles;
    std::vector<server::ChoiceStream> choices;
    int64_t tokens = 0;
  };
  const int nr = std::min(a.readers, batch);
  std::vector<std::unique_ptr<Reader>> readers;
  for (int i = 0; i < nr; ++i) readers.push_back(std::make_unique<Reader>());
  server::ChoiceOptions co;
  co.stop = a.stop;
  const BenchClock::time_point start = BenchClock::now();
  for (int i = 0; i < batch; ++i) {
    EngineRequest r;
    r.prompt_token_ids = prompt_of(a, i);
    r.params.max_tokens = a.output;
    r.params.ignore_eos = true;
    r.params.repetition_penalty = a.repetition_penalty;
    Reader& rd = *readers[static_cast<size_t>(i % nr)];
    rd.handles.push_back(engine->submit(std::move(r)));
    rd.choices.emplace_back(tok, co);
  }
  std::vector<std::thread> threads;
  for (auto& rp : readers) {
    Reader& rd = *rp;
    for (RequestHandle& h : rd.handles)
      h.on_output([&rd] {
        std::lock_guard lk(rd.mu);
        rd.woken = true;
        rd.cv.notify_one();
      });
    threads.emplace_back([&rd] {
      size_t open = rd.handles.size();
      while (open > 0) {
        {
          std::unique_lock lk(rd.mu);
          rd.cv.wait(lk, [&] { return rd.woken; });
          rd.woken = false;
        }
        for (size_t k = 0; k < rd.handles.size(); ++k) {
          RequestHandle& h = rd.handles[k];
          if (h.finished()) continue;
          std::optional<RequestOutput> o = h.next_for(std::chrono::milliseconds(0));
          if (!o) continue;
          rd.tokens += static_cast<int64_t>(o->token_ids.size());
          (void)rd.choices[k].push(*o);
          if (o->finished) --open;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Threaded res;
  res.seconds = std::chrono::duration<double>(BenchClock::now() - start).count();
  res.steps = counted->steps();
  res.sim_us = counted->sim_us();
  for (auto& rp : readers) res.tokens += rp->tokens;
  ROTOR_CHECK(res.tokens == static_cast<int64_t>(batch) * a.output, "{} tokens read, {} expected", res.tokens,
              static_cast<int64_t>(batch) * a.output);
  return res;
}

// The same requests as streaming completions through the HTTP server, one client connection
// each, all at once (the prompt: a.prompt tokens of " hello").
Threaded run_http(const Args& a, int batch, bool async, Ops& ops, Communicator& comm, const ModelConfig& model,
                  const std::shared_ptr<const Tokenizer>& tok) {
  HostStepRunner* counted = nullptr;
  std::unique_ptr<Engine> engine = make_engine(a, batch, async, ops, comm, model, counted);
  server::ServerOptions so;
  so.http.host = "127.0.0.1";
  so.http.port = 0;
  so.model_names = {"bench"};
  server::Server srv(*engine, tok, nullptr, so);
  srv.bind();
  std::thread serving([&srv] { srv.run(); });

  loadgen::RequestOptions ro;
  ro.model = "bench";
  ro.endpoint = loadgen::Endpoint::kCompletions;
  ro.max_tokens = a.output;
  ro.ignore_eos = true;
  ro.extra_body = {{"stop", a.stop}, {"repetition_penalty", a.repetition_penalty}};
  loadgen::Prompt p;
  for (int i = 0; i < a.prompt; ++i) p.text += " hello";
  std::vector<loadgen::Job> jobs(static_cast<size_t>(batch));
  for (int i = 0; i < batch; ++i) jobs[static_cast<size_t>(i)] = {loadgen::request_body(ro, p), i, a.prompt};
  loadgen::LoadOptions lo;
  lo.max_concurrency = batch;
  loadgen::LiveCounters live;
  const loadgen::BaseUrl url = loadgen::parse_base_url("http://127.0.0.1:" + std::to_string(srv.port()));
  const BenchClock::time_point start = BenchClock::now();
  const std::vector<loadgen::RequestRecord> records =
      loadgen::run_load(url, {}, loadgen::endpoint_path(ro.endpoint, url.prefix), jobs, lo, start, live);
  Threaded res;
  res.seconds = std::chrono::duration<double>(BenchClock::now() - start).count();
  srv.stop();
  serving.join();
  res.steps = counted->steps();
  res.sim_us = counted->sim_us();
  for (const loadgen::RequestRecord& r : records) {
    ROTOR_CHECK(r.success && r.output_tokens == a.output, "request {}: {} ({} tokens)", r.index, r.error,
                r.output_tokens);
    res.tokens += r.output_tokens;
  }
  return res;
}

// Prints a table of Engine or HTTP runs, the fastest of a.repeat each.
template <typename Run>
void threaded_table(const Args& a, const char* title, Run run) {
  std::printf("\n%s\n", title);
  std::printf("%6s %6s %8s %12s %12s %12s %12s %12s\n", "batch", "async", "steps", "µs/step", "sim µs/step", "steps/s",
              "tokens/s", "µs/token");
  for (int batch : a.batches) {
    for (bool async : {false, true}) {
      Threaded r = run(batch, async);
      for (int i = 1; i < a.repeat; ++i) {
        Threaded again = run(batch, async);
        if (again.seconds < r.seconds) r = again;
      }
      std::printf("%6d %6s %8d %12.1f %12.1f %12.0f %12.0f %12.2f\n", batch, async ? "on" : "off", r.steps,
                  1e6 * r.seconds / r.steps, r.sim_us / r.steps, r.steps / r.seconds,
                  static_cast<double>(r.tokens) / r.seconds, 1e6 * r.seconds / static_cast<double>(r.tokens));
    }
  }
}

// Every table: the phases on one thread, then through the Engine (and, --http, the server).
void bench_all(const Args& a) {
  set_log_level("warn");
  std::unique_ptr<Ops> ops = make_ops("cpu");
  std::unique_ptr<Communicator> comm = make_local_comm();
  const ModelConfig model = bench_model();
  const std::shared_ptr<const Tokenizer> tok = Tokenizer::embedded_qwen3();
  std::printf("prompt %d, output %d tokens per request; µs per decode step of the full batch (engine thread: "
              "schedule, prepare, update, out = metrics + streams; reader: detokenize + stop strings)\n",
              a.prompt, a.output);
  std::printf("%6s %6s %9s %9s %9s %9s %10s %10s %12s %12s\n", "batch", "async", "schedule", "prepare", "update",
              "out", "engine", "reader", "engine µs/tok", "steps/s max");
  for (int batch : a.batches) {
    for (bool async : {false, true}) {
      Result r = run(a, batch, async, *ops, *comm, model, *tok);
      for (int i = 1; i < a.repeat; ++i) {
        Result again = run(a, batch, async, *ops, *comm, model, *tok);
        if (again.decode.engine() < r.decode.engine()) r = again;
      }
      const double n = std::max(1, r.decode_steps);
      const Phases& d = r.decode;
      const double engine = d.engine() / n;
      std::printf("%6d %6s %9.1f %9.1f %9.1f %9.1f %10.1f %10.1f %12.2f %12.0f\n", batch, async ? "on" : "off",
                  d.schedule / n, d.prepare / n, d.update / n, d.engine_out / n, engine, d.reader / n,
                  engine / batch, 1e6 / engine);
    }
  }
  const std::string engine_title = "through the Engine (its threads, " + std::to_string(a.readers) +
                                   " reader threads): wall time per step, steps/s and tokens/s with no device time";
  threaded_table(a, engine_title.c_str(),
                 [&](int batch, bool async) { return run_engine(a, batch, async, *ops, *comm, model, *tok); });
  if (a.http)
    threaded_table(a, "through the HTTP server, one streaming completions client per request (same process)",
                   [&](int batch, bool async) { return run_http(a, batch, async, *ops, *comm, model, tok); });
}

}  // namespace
}  // namespace rotor

int main(int argc, char** argv) {
  using namespace rotor;
  Args a;
  CLI::App app("rotor_bench_host: the engine's host time per step (model-free runner)");
  app.add_option("--batches", a.batches, "batch sizes (requests running together)")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  app.add_option("--prompt", a.prompt, "prompt tokens per request")->check(CLI::Range(1, 1 << 24))->capture_default_str();
  app.add_option("--output", a.output, "output tokens per request")->check(CLI::Range(1, 1 << 24))->capture_default_str();
  app.add_option("--block-size", a.block_size)->check(CLI::Range(1, 1 << 16))->capture_default_str();
  app.add_option("--max-num-batched-tokens", a.max_num_batched_tokens)->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--stop", a.stop, "stop strings of every request")->capture_default_str();
  app.add_option("--readers", a.readers, "threads reading the streams (Engine runs)")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--repetition-penalty", a.repetition_penalty, "every request's (1: none)")->check(CLI::Range(1e-3, 1e3))->capture_default_str();
  app.add_flag("--http", a.http, "also through the in-process HTTP server with streaming clients");
  app.add_option("--repeat", a.repeat, "runs of each configuration, the fastest reported")->check(CLI::Range(1, 1000))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    bench_all(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
