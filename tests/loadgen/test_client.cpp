// tests/loadgen/test_client.cpp — the streaming client and the load generator end to end over
// real sockets against a scripted SSE server (sse_test_server.h): client timestamps, usage,
// every failure path, the concurrency limit and Poisson arrivals.
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>

#include "loadgen/http_client.h"
#include "loadgen/load_generator.h"
#include "core/error.h"
#include "sse_test_server.h"

namespace rotor::loadgen {
namespace {

using namespace rotor::loadgen::test;

RequestRecord send_one(const std::string& url, const ClientOptions& o = {}) {
  StreamClient c(parse_base_url(url), o);
  return c.send("/v1/chat/completions", R"({"model":"m","stream":true})", Clock::now());
}

TEST(BenchClient, TimestampsAndUsage) {
  std::string body;
  std::mutex mu;
  SseTestServer server([&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(mu);
      body = req.body;
    }
    // TTFT 100 ms; then tokens 30 ms apart; one chunk carries two tokens (usage says 6).
    stream(res, {{0, chat_role()},
                 {100, chat_token("A")},
                 {30, chat_token("B")},
                 {30, chat_token("CD")},
                 {30, chat_token("E")},
                 {30, chat_token("F")},
                 {20, chat_finish("length")},
                 {0, usage(17, 6)},
                 {0, done()}});
  });
  std::atomic<int64_t> live{0};
  StreamClient c(parse_base_url(server.url()), {});
  const auto t0 = Clock::now();
  const RequestRecord r = c.send("/v1/chat/completions", R"({"model":"m"})", t0, &live);
  ASSERT_TRUE(r.success) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(body, R"({"model":"m"})");
  EXPECT_EQ(r.output_tokens, 6);  // from usage, not from counting chunks
  EXPECT_EQ(r.prompt_tokens, 17);
  EXPECT_EQ(r.chunks, 8);  // every JSON chunk; [DONE] is not one
  EXPECT_EQ(r.output_times.size(), 5u);
  EXPECT_EQ(live.load(), 5);
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.output_chars, 6);
  const RequestMetrics m = request_metrics(r);
  ASSERT_TRUE(m.ttft);
  EXPECT_GE(*m.ttft, 0.100);  // cannot arrive before it was sent
  EXPECT_LT(*m.ttft, 0.100 + 0.150);
  ASSERT_EQ(m.itl.size(), 4u);
  const double mean_itl = (r.output_times.back() - r.output_times.front()) / 4;
  EXPECT_GT(mean_itl, 0.025);
  EXPECT_LT(mean_itl, 0.070);
  EXPECT_GE(m.e2e, 0.100 + 4 * 0.030 + 0.020 - 0.010);  // ends at the usage chunk
  EXPECT_GE(r.end, r.output_times.back());
  EXPECT_NEAR(*m.tpot, (m.e2e - *m.ttft) / 5, 1e-12);
}

TEST(BenchClient, EventsSplitAcrossWrites) {
  const std::string a = chat_token("x"), u = usage(3, 2);
  SseTestServer server([&](const httplib::Request&, httplib::Response& res) {
    std::vector<Step> steps;
    for (const std::string& ev : {a, a, u}) {  // each event in three pieces, 10 ms apart
      const size_t k = ev.size() / 3;
      steps.push_back({10, ev.substr(0, k)});
      steps.push_back({10, ev.substr(k, k)});
      steps.push_back({10, ev.substr(2 * k)});
    }
    steps.push_back({0, done()});
    stream(res, steps);
  });
  const RequestRecord r = send_one(server.url());
  ASSERT_TRUE(r.success) << r.error;
  ASSERT_EQ(r.output_times.size(), 2u);
  EXPECT_EQ(r.output_tokens, 2);
  // An event is stamped when its last piece arrives: the server sends event 1's last piece
  // after 30 ms and event 2's after 60 ms (its first after 40). Lower bounds from the start
  // only: a loaded machine can delay the client's reads, which shortens gaps between stamps
  // but never moves a stamp earlier.
  EXPECT_GE(r.output_times[0] - r.start, 0.030);
  EXPECT_GE(r.output_times[1] - r.start, 0.055);
}

TEST(BenchClient, HttpErrorStatus) {
  SseTestServer server([](const httplib::Request&, httplib::Response& res) {
    res.status = 400;
    res.set_content(R"({"error":{"message":"max_tokens is too large","type":"BadRequestError","code":400}})",
                    "application/json");
  });
  const RequestRecord r = send_one(server.url());
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.error, "HTTP 400: max_tokens is too large");
  EXPECT_GE(r.end, r.start);
}

TEST(BenchClient, ErrorInsideTheStream) {
  SseTestServer server([](const httplib::Request&, httplib::Response& res) {
    stream(res, {{0, chat_token("a")}, {5, sse({{"error", {{"message", "engine died"}, {"code", 500}}}})}, {0, done()}});
  });
  const RequestRecord r = send_one(server.url());
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.error, "error in stream: engine died");
}

TEST(BenchClient, StreamWithoutUsageFails) {
  SseTestServer server([](const httplib::Request&, httplib::Response& res) {
    stream(res, {{0, chat_token("a")}, {0, chat_token("b")}, {0, done()}});
  });
  const RequestRecord r = send_one(server.url());
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.error.find("without usage"), std::string::npos) << r.error;
  EXPECT_EQ(r.output_times.size(), 2u);
}

TEST(BenchClient, ConnectionDroppedMidStream) {
  SseTestServer server([](const httplib::Request&, httplib::Response& res) {
    stream(res, {{0, chat_token("a")}, {10, chat_token("b")}, {0, usage(1, 2)}}, /*abort_after=*/2);
  });
  const RequestRecord r = send_one(server.url());
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.error.find("HTTP client error"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("after 2 chunks"), std::string::npos) << r.error;
}

TEST(BenchClient, NotStreamed) {
  SseTestServer server([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}})",
                    "application/json");
  });
  const RequestRecord r = send_one(server.url());
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.error.find("did not stream"), std::string::npos) << r.error;
}

TEST(BenchClient, ReadTimeout) {
  SseTestServer server([](const httplib::Request&, httplib::Response& res) {
    stream(res, {{0, chat_token("a")}, {1500, usage(1, 1)}, {0, done()}});
  });
  ClientOptions o;
  o.read_timeout_s = 0.3;
  const RequestRecord r = send_one(server.url(), o);
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.error.find("Read"), std::string::npos) << r.error;
  EXPECT_LT(r.end - r.start, 1.4);
}

TEST(BenchClient, ConnectionRefused) {
  int port;
  {
    SseTestServer server([](const httplib::Request&, httplib::Response&) {});
    port = server.port();
  }
  const RequestRecord r = send_one("http://127.0.0.1:" + std::to_string(port));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_NE(r.error.find("HTTP client error: Connection"), std::string::npos) << r.error;
}

TEST(BenchClient, ReusedConnectionAddsNoDelay) {
  // Without TCP_NODELAY on the client, a request written in two pieces (headers, body) on a
  // kept-alive connection waits for the server's delayed ACK: about 40 ms added to the TTFT.
  SseTestServer server([](const httplib::Request&, httplib::Response& res) {
    stream(res, {{0, chat_token("a")}, {0, usage(1, 1)}, {0, done()}});
  });
  StreamClient c(parse_base_url(server.url()), {});
  const auto t0 = Clock::now();
  for (int i = 0; i < 6; ++i) {
    const RequestRecord r = c.send("/v1/chat/completions", std::string(i % 2 ? 100 : 20000, ' '), t0);
    ASSERT_TRUE(r.success) << r.error;
    EXPECT_LT(*request_metrics(r).ttft, 0.025) << "request " << i;
  }
}

TEST(BenchClient, BaseUrls) {
  BaseUrl b = parse_base_url("http://localhost:8000");
  EXPECT_EQ(b.origin, "http://localhost:8000");
  EXPECT_EQ(b.prefix, "");
  b = parse_base_url("https://host/api/v1/");
  EXPECT_EQ(b.origin, "https://host");
  EXPECT_EQ(b.prefix, "/api/v1");
  EXPECT_THROW(parse_base_url("localhost:8000"), rotor::Error);
  EXPECT_THROW(parse_base_url("ftp://x"), rotor::Error);
  EXPECT_THROW(parse_base_url("http://"), rotor::Error);
}

TEST(BenchLoad, ConcurrencyLimit) {
  std::atomic<int> in_flight{0}, peak{0}, served{0};
  SseTestServer server([&](const httplib::Request&, httplib::Response& res) {
    const int now = ++in_flight;
    for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {}
    ++served;
    res.set_chunked_content_provider("text/event-stream", [&](size_t, httplib::DataSink& sink) {
      for (const std::string& s : {chat_token("a"), chat_token("b"), usage(4, 2)}) {
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
        sink.write(s.data(), s.size());
      }
      --in_flight;  // before the end of the body: the client may send its next request at once
      sink.write(done().data(), done().size());
      sink.done();
      return true;
    });
  });
  std::vector<Job> jobs;
  for (int i = 0; i < 12; ++i) jobs.push_back({R"({"model":"m"})", 100 + i, 4});
  LoadOptions o;
  o.max_concurrency = 3;
  LiveCounters live;
  const std::vector<RequestRecord> rec =
      run_load(parse_base_url(server.url()), {}, "/v1/chat/completions", jobs, o, Clock::now(), live);
  ASSERT_EQ(rec.size(), 12u);
  for (size_t i = 0; i < rec.size(); ++i) {
    EXPECT_TRUE(rec[i].success) << rec[i].error;
    EXPECT_EQ(rec[i].index, 100 + static_cast<int>(i));
    EXPECT_EQ(rec[i].expected_prompt_tokens, 4);
  }
  EXPECT_EQ(served.load(), 12);
  EXPECT_EQ(peak.load(), 3);
  EXPECT_EQ(live.finished.load(), 12);
  EXPECT_EQ(live.failed.load(), 0);
  EXPECT_EQ(live.chunks.load(), 24);
  const Summary s = summarize(rec);
  EXPECT_EQ(s.peak_concurrency, 3);
  EXPECT_EQ(s.output_tokens, 24);
  EXPECT_GE(s.duration, 4 * 0.120);  // four waves of three, 120 ms each
}

TEST(BenchLoad, FailuresAreCountedNotDropped) {
  std::atomic<int> n{0};
  SseTestServer server([&](const httplib::Request&, httplib::Response& res) {
    if (n++ % 2) {
      res.status = 503;
      res.set_content(R"({"error":{"message":"overloaded"}})", "application/json");
      return;
    }
    stream(res, {{0, chat_token("a")}, {0, usage(1, 1)}, {0, done()}});
  });
  std::vector<Job> jobs(6, Job{"{}", 0, -1});
  LoadOptions o;
  o.max_concurrency = 1;
  LiveCounters live;
  const auto rec = run_load(parse_base_url(server.url()), {}, "/v1/completions", jobs, o, Clock::now(), live);
  const Summary s = summarize(rec);
  EXPECT_EQ(s.total, 6);
  EXPECT_EQ(s.succeeded, 3);
  EXPECT_EQ(s.failed, 3);
  EXPECT_EQ(s.errors.at("HTTP 503: overloaded"), 3);
  EXPECT_EQ(live.failed.load(), 3);
}

TEST(BenchLoad, PoissonArrivals) {
  const std::vector<double> inf = poisson_arrivals(5, std::numeric_limits<double>::infinity(), 1);
  for (double t : inf) EXPECT_EQ(t, 0);
  const int n = 20000;
  const std::vector<double> t = poisson_arrivals(n, 50.0, 7);
  EXPECT_EQ(t.front(), 0);
  double mean = t.back() / (n - 1), var = 0;
  for (int i = 1; i < n; ++i) {
    const double g = t[i] - t[i - 1];
    EXPECT_GT(g, 0);
    var += (g - mean) * (g - mean);
  }
  var /= n - 1;
  EXPECT_NEAR(mean, 1 / 50.0, 0.03 / 50);              // exponential gaps: mean 1/rate
  EXPECT_NEAR(std::sqrt(var), 1 / 50.0, 0.05 / 50);   // and standard deviation 1/rate
  EXPECT_EQ(poisson_arrivals(10, 50.0, 7), poisson_arrivals(10, 50.0, 7));
  EXPECT_NE(poisson_arrivals(10, 50.0, 7), poisson_arrivals(10, 50.0, 8));
  EXPECT_THROW(poisson_arrivals(3, 0.0, 1), rotor::Error);
}

TEST(BenchLoad, RequestsStartAtTheirArrivalTimes) {
  SseTestServer server([](const httplib::Request&, httplib::Response& res) {
    stream(res, {{0, chat_token("a")}, {0, usage(1, 1)}, {0, done()}});
  });
  std::vector<Job> jobs(8, Job{"{}", 0, -1});
  LoadOptions o;
  o.max_concurrency = 8;
  o.request_rate = 5;  // mean gap 200 ms: a late start of 100 ms is a bug, not scheduler noise on a busy CI
  o.seed = 3;
  LiveCounters live;
  const auto rec = run_load(parse_base_url(server.url()), {}, "/v1/completions", jobs, o, Clock::now(), live);
  const std::vector<double> arr = poisson_arrivals(8, 5, 3);
  for (size_t i = 0; i < rec.size(); ++i) {
    EXPECT_TRUE(rec[i].success) << rec[i].error;
    EXPECT_GE(rec[i].start, arr[i]);
    EXPECT_LT(rec[i].start, arr[i] + 0.1);
  }
}

}  // namespace
}  // namespace rotor::loadgen
