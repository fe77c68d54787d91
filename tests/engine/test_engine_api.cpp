// tests/engine/test_engine_api.cpp — the Engine API on the tiny model: streaming deltas,
// abort (explicit, by dropping the handle, by destroying the engine), input validation
// (one-line errors), a KV cache too small for max_model_len, prompt argmax, prompt log-probs
// against the logits after each prefix, allowed_token_ids and bad_words, stats.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "tests/engine/engine_util.h"
#include "tests/engine/sampling_checks.h"

namespace rotor {
namespace {

class EngineApi : public test::TinyModel {
 protected:
  static EngineConfig config() {
    EngineConfig c;
    c.max_model_len = 256;
    c.max_num_seqs = 8;
    c.max_num_batched_tokens = 64;
    c.kv_cache_memory_bytes = 64 * (128 << 10);
    return c;
  }
  static EngineRequest request(int prompt_len, int max_tokens) {
    EngineRequest r;
    for (int i = 0; i < prompt_len; ++i) r.prompt_token_ids.push_back(1000 + 37 * i);
    r.params.temperature = 0.0f;
    r.params.max_tokens = max_tokens;
    r.params.ignore_eos = true;
    return r;
  }
};

TEST_F(EngineApi, StreamsDeltasAndCountsUsage) {
  auto e = engine(config());
  RequestHandle h = e->submit(request(40, 6));
  std::vector<int32_t> tokens;
  RequestOutput last;
  while (!h.finished()) {
    auto o = h.next_for(std::chrono::milliseconds(5000));
    ASSERT_TRUE(o.has_value());
    tokens.insert(tokens.end(), o->token_ids.begin(), o->token_ids.end());
    EXPECT_EQ(o->num_output_tokens, static_cast<int>(tokens.size()));
    last = *o;
  }
  EXPECT_EQ(tokens.size(), 6u);
  EXPECT_EQ(last.finish_reason, FinishReason::Length);
  EXPECT_EQ(last.num_prompt_tokens, 40);
  ASSERT_TRUE(last.times.first_token && last.times.finished && last.times.first_scheduled);
  EXPECT_LE(last.times.arrival, *last.times.first_scheduled);
  EXPECT_LE(*last.times.first_token, *last.times.finished);
  EXPECT_THROW(h.next(), Error);  // the stream ended
  // The same prompt again is served from the prefix cache (two full blocks of 16).
  const RequestOutput again = e->submit(request(40, 6)).wait();
  EXPECT_EQ(again.token_ids, tokens);
  EXPECT_EQ(again.num_cached_tokens, 32);
  const EngineStats st = e->stats();
  EXPECT_EQ(st.prompt_tokens, 80u);
  EXPECT_EQ(st.generation_tokens, 12u);
  EXPECT_EQ(st.requests_length, 2u);
  EXPECT_EQ(st.ttft.count, 2u);
  EXPECT_EQ(st.e2e.count, 2u);
  EXPECT_EQ(st.inter_token.count, 10u);
  EXPECT_EQ(st.prefix_cache_hits, 32u);
  EXPECT_GT(st.num_steps, 6u);
}

TEST_F(EngineApi, AbortEndsTheStreamAndFreesTheCache) {
  auto e = engine(config());
  RequestHandle h = e->submit(request(8, 200));
  RequestOutput first = h.next();
  EXPECT_FALSE(first.finished);
  h.abort();
  RequestOutput rest = h.wait();
  EXPECT_EQ(rest.finish_reason, FinishReason::Abort);
  EXPECT_LT(rest.num_output_tokens, 200);
  {
    RequestHandle dropped = e->submit(request(8, 200));  // the client goes away
  }
  // Both aborts are seen once the engine is idle again.
  for (int i = 0; i < 500 && e->stats().requests_abort < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const EngineStats st = e->stats();
  EXPECT_EQ(st.requests_abort, 2u);
  EXPECT_EQ(st.kv_cache_usage, 0.0);
  EXPECT_EQ(st.num_running + st.num_waiting, 0);
}

TEST_F(EngineApi, DestroyingTheEngineAbortsWhatRuns) {
  RequestHandle h;
  {
    auto e = engine(config());
    h = e->submit(request(8, 200));
    h.next();
  }
  const RequestOutput o = h.wait();
  EXPECT_EQ(o.finish_reason, FinishReason::Abort);
}

TEST_F(EngineApi, RejectsBadRequestsWithOneLineErrors) {
  auto e = engine(config());
  auto expect_error = [&](EngineRequest r, const std::string& fragment) {
    try {
      e->submit(std::move(r));
      ADD_FAILURE() << "accepted; expected an error with '" << fragment << "'";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(fragment), std::string::npos) << err.what();
      EXPECT_EQ(std::string(err.what()).find('\n'), std::string::npos);
    }
  };
  expect_error(request(0, 4), "empty");
  EngineRequest r = request(4, 4);
  r.prompt_token_ids[2] = 151936;
  expect_error(r, "outside the vocabulary");
  expect_error(request(256, 4), "maximum context length of 256");
  r = request(4, 4);
  r.params.temperature = -1;
  expect_error(r, "temperature");
  r = request(4, 4);
  r.params.top_p = 0;
  expect_error(r, "top_p");
  r = request(4, 4);
  r.params.logprobs = 21;
  expect_error(r, "logprobs must be in [0, 20]");
  r = request(4, 4);
  r.params.min_tokens = 5;
  expect_error(r, "min_tokens");
  r = request(4, 4);
  r.params.max_tokens = 0;
  expect_error(r, "max_tokens");
  r = request(4, 4);
  r.params.repetition_penalty = 0;
  expect_error(r, "repetition_penalty");
  r = request(4, 4);
  r.params.prompt_logprobs = 21;
  expect_error(r, "prompt_logprobs must be in [0, 20]");
  r = request(4, 4);
  r.params.allowed_token_ids = {5, 151936};
  expect_error(r, "allowed token id 151936");
  r = request(4, 4);
  r.params.bad_words = {{5}, {}};
  expect_error(r, "a bad word has no tokens");
  r = request(4, 4);
  r.priority = 3;
  expect_error(r, "--scheduling-policy priority");
  // The engine still works.
  EXPECT_EQ(e->submit(request(255, 4)).wait().num_output_tokens, 1);  // capped by max_model_len
}

TEST_F(EngineApi, KvCacheTooSmallForMaxModelLenIsAClearError) {
  EngineConfig c = config();
  c.kv_cache_memory_bytes = 3 * (128 << 10);  // 48 tokens < max_model_len 256
  try {
    engine(c);
    ADD_FAILURE() << "no error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("--kv-cache-memory-bytes"), std::string::npos) << err.what();
  }
}

TEST_F(EngineApi, PromptArgmaxCoversEveryPromptPosition) {
  auto e = engine(config());
  e->submit(request(40, 1)).wait();  // fills the prefix cache, which prompt_argmax must not use
  EngineRequest r = request(40, 3);
  r.prompt_argmax = true;
  const RequestOutput o = e->submit(r).wait();
  ASSERT_EQ(o.prompt_argmax.size(), 40u);
  EXPECT_EQ(o.prompt_argmax.back(), o.token_ids[0]);  // greedy: the argmax after the prompt
  EXPECT_EQ(o.num_cached_tokens, 0);
  auto runner = single_runner(64);
  OfflineRequest ref;
  ref.prompt = r.prompt_token_ids;
  ref.params.temperature = 0.0f;
  ref.max_tokens = 1;
  ref.prompt_argmax = true;
  EXPECT_EQ(generate_offline(*runner, std::span(&ref, 1), 0, {})[0].prompt_argmax, o.prompt_argmax);
}

TEST_F(EngineApi, PromptLogprobsMatchTheLogitsAfterEachPrefix) {
  // 100 prompt tokens over two steps (64-token budget) and many logits chunks (8 rows each),
  // beside a request with prompt argmax; the prefix cache holds the prompt and is not used.
  auto e = engine(config());
  EngineRequest a = request(100, 2);
  e->submit(a).wait();
  a.params.prompt_logprobs = 5;
  EngineRequest b = request(30, 2);
  for (int32_t& t : b.prompt_token_ids) t += 3;
  b.params.prompt_logprobs = 0;
  b.prompt_argmax = true;
  RequestHandle ha = e->submit(a), hb = e->submit(b);
  const RequestOutput oa = ha.wait(), ob = hb.wait();
  EXPECT_EQ(oa.num_cached_tokens, 0);
  ASSERT_EQ(oa.prompt_logprobs.size(), 99u);
  ASSERT_EQ(ob.prompt_logprobs.size(), 29u);
  EXPECT_EQ(ob.prompt_argmax.size(), 30u);
  auto runner = single_runner(128);
  for (const EngineRequest* req : {&a, &b}) {
    const EngineRequest& r = *req;
    const RequestOutput& o = &r == &a ? oa : ob;
    const int k = *r.params.prompt_logprobs;
    for (size_t p = 0; p + 1 < r.prompt_token_ids.size(); ++p) {
      SCOPED_TRACE("position " + std::to_string(p));
      const std::vector<int32_t> prefix(r.prompt_token_ids.begin(), r.prompt_token_ids.begin() + p + 1);
      test::expect_prompt_logprobs(o.prompt_logprobs[p], test::logits_after(*runner, prefix), r.prompt_token_ids[p + 1],
                                   k, 2e-3);
    }
  }
}

TEST_F(EngineApi, AllowedTokenIdsAndBadWordsShapeWhatIsDrawn) {
  EngineConfig c = config();
  c.async_scheduling = true;  // a bad word of several tokens must wait for the token in flight
  auto e = engine(c);
  const std::vector<int32_t> greedy = e->submit(request(12, 8)).wait().token_ids;
  ASSERT_EQ(greedy.size(), 8u);

  EngineRequest allowed = request(12, 24);
  allowed.params.temperature = 1.0f;
  allowed.params.seed = 7;
  allowed.params.allowed_token_ids = {5, 77, 1234, greedy[3]};
  const std::set<int32_t> set(allowed.params.allowed_token_ids.begin(), allowed.params.allowed_token_ids.end());
  std::set<int32_t> drawn;
  for (int32_t t : e->submit(allowed).wait().token_ids) {
    EXPECT_TRUE(set.contains(t)) << t;
    drawn.insert(t);
  }
  EXPECT_GE(drawn.size(), 2u);  // sampled among them, not stuck on one

  EngineRequest one = request(12, 8);
  one.params.bad_words = {{greedy[0]}};
  const std::vector<int32_t> out1 = e->submit(one).wait().token_ids;
  EXPECT_EQ(std::count(out1.begin(), out1.end(), greedy[0]), 0);

  EngineRequest two = request(12, 8);
  two.params.bad_words = {{greedy[0], greedy[1]}};
  const std::vector<int32_t> out2 = e->submit(two).wait().token_ids;
  ASSERT_EQ(out2.size(), 8u);
  EXPECT_EQ(out2[0], greedy[0]);  // allowed alone: only the pair is banned
  EXPECT_NE(out2[1], greedy[1]);
  for (size_t i = 1; i < out2.size(); ++i)
    EXPECT_FALSE(out2[i - 1] == greedy[0] && out2[i] == greedy[1]) << i;
}

}  // namespace
}  // namespace rotor
