// tests/server/test_http_pieces.cpp — the parts of the HTTP front end that need no socket:
// bounded decoding of gzip / deflate bodies (exact output, the limit stops inflation early,
// corrupt and unknown encodings), API keys (any of several, nothing else), CORS answers, and
// the engine's output wake-up that the front end waits on (RequestHandle::on_output).
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "engine/step_runner.h"
#include "server/api_keys.h"
#include "server/body_decoding.h"
#include "server/cors.h"
#include "bench/sim_runner.h"

namespace rotor::server {
namespace {

// zlib's own compressor: window_bits 31 = gzip, 15 = zlib, -15 = raw deflate.
std::string compress(const std::string& in, int window_bits) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string random_text(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, ' ');
  for (char& c : s) c = static_cast<char>('a' + rng() % 8);  // compressible, not trivially
  return s;
}

TEST(BodyDecoding, IdentityPassesThrough) {
  const DecodedBody d = decode_body("", "{\"a\": 1}", 100);
  EXPECT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_EQ(d.body, "{\"a\": 1}");
  EXPECT_EQ(decode_body(" Identity ", "x", 100).body, "x");
}

TEST(BodyDecoding, GzipDeflateAndRawDeflateRoundTrip) {
  const std::string text = random_text(300000, 7);
  EXPECT_EQ(decode_body("gzip", compress(text, 31), 1 << 20).body, text);
  EXPECT_EQ(decode_body("x-gzip", compress(text, 31), 1 << 20).body, text);
  EXPECT_EQ(decode_body("deflate", compress(text, 15), 1 << 20).body, text);
  EXPECT_EQ(decode_body("DEFLATE", compress(text, -15), 1 << 20).body, text);
  // Concatenated gzip members are one body.
  EXPECT_EQ(decode_body("gzip", compress("abc", 31) + compress("def", 31), 100).body, "abcdef");
}

TEST(BodyDecoding, TheLimitAppliesToTheDecodedSize) {
  const std::string text(10 << 20, ' ');  // 10 MB of spaces: ~10 KB of gzip
  const std::string gz = compress(text, 31);
  ASSERT_LT(gz.size(), 64u << 10);
  const DecodedBody over = decode_body("gzip", gz, 1 << 20);
  EXPECT_EQ(over.status, DecodeStatus::TooLarge);
  EXPECT_TRUE(over.body.empty());
  EXPECT_NE(over.message.find("1048576"), std::string::npos) << over.message;
  EXPECT_EQ(decode_body("gzip", gz, 10 << 20).body.size(), text.size());  // exactly at the limit
  EXPECT_EQ(decode_body("gzip", gz, (10 << 20) - 1).status, DecodeStatus::TooLarge);
}

TEST(BodyDecoding, CorruptAndUnknownEncodings) {
  std::string gz = compress(random_text(5000, 3), 31);
  EXPECT_EQ(decode_body("gzip", gz.substr(0, gz.size() / 2), 1 << 20).status, DecodeStatus::Corrupt);  // truncated
  EXPECT_EQ(decode_body("gzip", "not gzip at all", 1 << 20).status, DecodeStatus::Corrupt);
  EXPECT_EQ(decode_body("gzip", gz + "trailing", 1 << 20).status, DecodeStatus::Corrupt);
  EXPECT_EQ(decode_body("deflate", "\x01\x02\x03", 1 << 20).status, DecodeStatus::Corrupt);
  const DecodedBody br = decode_body("br", "x", 100);
  EXPECT_EQ(br.status, DecodeStatus::Unsupported);
  EXPECT_NE(br.message.find("br"), std::string::npos);
  EXPECT_EQ(decode_body("gzip, gzip", gz, 1 << 20).status, DecodeStatus::Unsupported);
}

TEST(ApiKeys, AnyOfSeveralKeysAndNothingElse) {
  const ApiKeys keys({"sk-one", "sk-two"});
  EXPECT_TRUE(keys.accepts("Bearer sk-one"));
  EXPECT_TRUE(keys.accepts("Bearer sk-two"));
  EXPECT_TRUE(keys.accepts("bearer sk-two"));  // the scheme is case-insensitive
  for (const char* bad : {"", "sk-one", "Bearer ", "Bearer sk-on", "Bearer sk-one ", "Bearer sk-onex", "Bearer SK-ONE",
                          "Basic sk-one", "Bearer sk-three"})
    EXPECT_FALSE(keys.accepts(bad)) << bad;
  EXPECT_TRUE(ApiKeys({}).accepts(""));  // no keys: no authentication
  EXPECT_TRUE(ApiKeys({}).empty());
}

// The simulated model of sim_runner.h, each step taking `step` of wall time.
class SimStepRunner final : public StepRunner {
 public:
  SimStepRunner(int num_blocks, int block_size, std::chrono::milliseconds step)
      : sim_(num_blocks, block_size, 0), step_(step) {}
  std::unique_ptr<PreparedStep> prepare(const SchedulerOutput& out) override {
    auto step = std::make_unique<Step>();
    step->out = out;
    return step;
  }
  RunnerOutput execute(PreparedStep& step) override {
    std::this_thread::sleep_for(step_);
    return sim_.execute(static_cast<Step&>(step).out);
  }

 private:
  struct Step final : PreparedStep {
    SchedulerOutput out;
  };
  SimRunner sim_;
  std::chrono::milliseconds step_;
};

std::unique_ptr<Engine> sim_engine(std::chrono::milliseconds step) {
  EngineConfig c;
  c.block_size = 4;
  c.max_num_seqs = 4;
  c.max_num_batched_tokens = 64;
  EngineLimits lim;
  lim.max_model_len = 64;
  lim.vocab_size = 50;
  lim.num_blocks = 64;
  lim.eos_token_ids = {kSimEos};
  return std::make_unique<Engine>(c, lim, std::make_unique<SimStepRunner>(lim.num_blocks, c.block_size, step));
}

EngineRequest sim_request(int max_tokens) {
  EngineRequest r;
  r.prompt_token_ids = {3, 4, 5};
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;
  return r;
}

using std::chrono::milliseconds;

TEST(OutputWakeUp, EveryOutputIsAnnouncedAndReadWithoutWaiting) {
  auto engine = sim_engine(milliseconds(1));
  RequestHandle h = engine->submit(sim_request(12));
  std::atomic<int> calls{0};
  h.on_output([&] { ++calls; });
  // An event-loop reader: reads only after a wake-up, and never waits in next_for.
  std::vector<int32_t> tokens;
  bool finished = false;
  int seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    if (calls.load() == seen) {
      std::this_thread::sleep_for(milliseconds(1));
      continue;
    }
    seen = calls.load();
    while (auto out = h.next_for(milliseconds(0))) {
      tokens.insert(tokens.end(), out->token_ids.begin(), out->token_ids.end());
      finished = out->finished;
      if (finished) break;
    }
  }
  ASSERT_TRUE(finished) << "the final output was never announced";
  EXPECT_EQ(tokens.size(), 12u);
}

TEST(OutputWakeUp, PendingOutputIsAnnouncedAtOnce) {
  auto engine = sim_engine(milliseconds(1));
  RequestHandle h = engine->submit(sim_request(3));
  std::this_thread::sleep_for(milliseconds(300));  // finished long ago; its output unread
  std::atomic<int> calls{0};
  h.on_output([&] { ++calls; });
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(h.wait().token_ids.size(), 3u);
}

TEST(OutputWakeUp, ADroppedHandleIsNeverCalledAgain) {
  auto engine = sim_engine(milliseconds(3));
  std::atomic<int> calls{0};
  {
    RequestHandle h = engine->submit(sim_request(60));  // ~180 ms of steps
    while (!h.next_for(milliseconds(5))) {
    }
    h.on_output([&] { ++calls; });
    std::this_thread::sleep_for(milliseconds(30));
    EXPECT_GE(calls.load(), 1);  // it was running and announcing
  }  // dropped: the request is aborted, its final output comes after this point
  const int at_drop = calls.load();
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(calls.load(), at_drop);
  EXPECT_EQ(engine->stats().requests_abort, 1u);
}


std::string header(const HeaderList& h, const std::string& name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return "(none)";
}

TEST(Cors, AnyOriginByDefault) {
  const CorsPolicy any{CorsOptions{}};
  CorsRequest r{"http://a.example", "POST", "X-Custom, Authorization", true, false};
  EXPECT_TRUE(CorsPolicy::is_preflight("OPTIONS", r));
  EXPECT_FALSE(CorsPolicy::is_preflight("GET", r));
  const PreflightReply p = any.preflight(r);
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(header(p.headers, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(header(p.headers, "Access-Control-Allow-Headers"), "X-Custom, Authorization");  // echoed
  EXPECT_EQ(header(any.reply_headers(r), "Access-Control-Allow-Origin"), "*");
  r.has_cookie = true;  // a credentialed request gets its origin named
  EXPECT_EQ(header(any.reply_headers(r), "Access-Control-Allow-Origin"), "http://a.example");
  EXPECT_TRUE(any.reply_headers(CorsRequest{}).empty());
}

TEST(Cors, ListsAndCredentials) {
  CorsOptions o;
  o.allowed_origins = {"http://a.example"};
  o.allowed_methods = {"POST"};
  o.allowed_headers = {"authorization"};
  o.allow_credentials = true;
  const CorsPolicy c{o};
  const PreflightReply ok = c.preflight({"http://a.example", "POST", "Content-Type,AUTHORIZATION", true, false});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(header(ok.headers, "Access-Control-Allow-Origin"), "http://a.example");
  EXPECT_EQ(header(ok.headers, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(header(ok.headers, "Access-Control-Allow-Headers"),
            "Accept, Accept-Language, Content-Language, Content-Type, authorization");
  EXPECT_EQ(c.preflight({"http://b.example", "GET", "x-y", true, false}).body,
            "Disallowed CORS origin, method, headers");
  EXPECT_EQ(c.preflight({"http://a.example", "POST", "", false, false}).status, 200);
  EXPECT_EQ(header(c.reply_headers({"http://b.example", "", "", false, false}), "Access-Control-Allow-Origin"), "(none)");
}

}  // namespace
}  // namespace rotor::server
