// tests/loadgen/test_outputs.cpp — the jsonl dataset reader and the three outputs of a run (text
// table, --result-json, --report) on hand-made records.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "loadgen/html_report.h"
#include "loadgen/jsonl_dataset.h"
#include "loadgen/result_json.h"
#include "loadgen/summary_table.h"
#include "core/error.h"

namespace rotor::loadgen {
namespace {

std::string temp_file(const std::string& text) {
  static int n = 0;
  const auto path = std::filesystem::temp_directory_path() /
                    ("rotor_bench_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++) + ".jsonl");
  std::ofstream(path) << text;
  return path.string();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BenchJsonl, ReadsPromptsAndMessages) {
  const std::string path = temp_file(
      "{\"prompt\": \"hello\"}\n\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 7}\n"
      "{\"prompt\": \"x\", \"output_len\": 3}\n");
  const std::vector<Prompt> p = load_jsonl(path, Endpoint::kChat);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].text, "hello");
  EXPECT_TRUE(p[0].messages.is_null());
  EXPECT_EQ(p[0].max_tokens, 0);
  EXPECT_EQ(p[1].messages[0]["content"], "hi");
  EXPECT_EQ(p[1].max_tokens, 7);
  EXPECT_EQ(p[2].max_tokens, 3);
  EXPECT_EQ(p[2].expected_prompt_tokens, -1);
  std::remove(path.c_str());
}

TEST(BenchJsonl, BadLinesNameTheLine) {
  auto err = [](const std::string& text, Endpoint e = Endpoint::kChat) {
    const std::string path = temp_file(text);
    const std::string m = error_of([&] { load_jsonl(path, e); });
    std::remove(path.c_str());
    return m;
  };
  EXPECT_NE(err("{\"prompt\": \"a\"}\nnot json\n").find(":2: not a JSON object"), std::string::npos);
  EXPECT_NE(err("{\"text\": \"a\"}\n").find(":1: needs \"prompt\" or \"messages\""), std::string::npos);
  EXPECT_NE(err("{\"prompt\": 5}\n").find("must be a string"), std::string::npos);
  EXPECT_NE(err("{\"prompt\": \"a\", \"max_tokens\": 0}\n").find("positive integer"), std::string::npos);
  EXPECT_NE(err("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n", Endpoint::kCompletions)
                .find("need --endpoint chat"),
            std::string::npos);
  EXPECT_NE(err("\n\n").find("has no prompts"), std::string::npos);
  EXPECT_NE(error_of([] { load_jsonl("/nonexistent/x.jsonl", Endpoint::kChat); }).find("cannot read"),
            std::string::npos);
}

std::vector<RequestRecord> records() {
  RequestRecord a;
  a.index = 0;
  a.start = 0.0;
  a.output_times = {0.1, 0.2, 0.4};
  a.end = 0.4;
  a.prompt_tokens = 16;
  a.expected_prompt_tokens = 16;
  a.output_tokens = 3;
  a.chunks = 4;
  a.success = true;
  a.finish_reason = "length";
  RequestRecord b;
  b.index = 1;
  b.start = 0.1;
  b.end = 0.5;
  b.http_status = 500;
  b.error = "HTTP 500: <script>alert(1)</script> & more";
  return {a, b};
}

RunInfo info() {
  RunInfo i;
  i.base_url = "http://127.0.0.1:8000";
  i.endpoint_path = "/v1/chat/completions";
  i.model = "tiny<model>";
  i.dataset = "random";
  i.num_prompts = 2;
  i.max_concurrency = 2;
  i.request_rate = std::numeric_limits<double>::infinity();
  i.random_input_len = 16;
  i.random_output_len = 3;
  return i;
}

TEST(BenchOutputs, ResultJson) {
  const std::vector<RequestRecord> r = records();
  const nlohmann::json j = result_json(info(), summarize(r), r);
  EXPECT_EQ(j["completed"], 1);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["request_rate"], "inf");
  EXPECT_DOUBLE_EQ(j["duration"].get<double>(), 0.5);
  EXPECT_EQ(j["total_output_tokens"], 3);
  EXPECT_DOUBLE_EQ(j["output_throughput"].get<double>(), 6.0);
  EXPECT_NEAR(j["mean_ttft_ms"].get<double>(), 100, 1e-9);
  EXPECT_NEAR(j["p99_itl_ms"].get<double>(), 200, 1e-9);
  EXPECT_NEAR(j["mean_tpot_ms"].get<double>(), 150, 1e-9);
  EXPECT_EQ(j["count_itl_ms"], 2);
  EXPECT_EQ(j["errors"]["HTTP 500: <script>alert(1)</script> & more"], 1);
  ASSERT_EQ(j["requests"].size(), 2u);
  EXPECT_EQ(j["requests"][0]["output_times_s"], nlohmann::json::parse("[0.1, 0.2, 0.4]"));
  EXPECT_TRUE(j["requests"][1]["ttft_ms"].is_null());
  EXPECT_EQ(j["requests"][1]["success"], false);
  EXPECT_EQ(j["timeline"]["t"].size(), 100u);
  double tokens = 0;
  for (const auto& v : j["timeline"]["output_tps"]) tokens += v.get<double>() * j["timeline"]["bin_s"].get<double>();
  EXPECT_NEAR(tokens, 3, 1e-9);

  const nlohmann::json none = result_json(info(), summarize({}), {});
  EXPECT_TRUE(none["mean_ttft_ms"].is_null());
  EXPECT_EQ(none["completed"], 0);
}

TEST(BenchOutputs, TableAndReport) {
  const std::vector<RequestRecord> r = records();
  const Summary s = summarize(r);
  const std::string t = summary_table(info(), s);
  EXPECT_NE(t.find("Successful requests:                    1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Failed requests:                        1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("1 x HTTP 500: <script>"), std::string::npos);
  EXPECT_NE(t.find("TTFT (ms)"), std::string::npos);

  const std::string h = html_report(info(), s, r);
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(h.find("<script"), std::string::npos);  // the server's error text is escaped
  EXPECT_NE(h.find("HTTP 500: &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), std::string::npos);
  EXPECT_NE(h.find("tiny&lt;model&gt;"), std::string::npos);
  size_t svgs = 0;
  for (size_t p = h.find("<svg"); p != std::string::npos; p = h.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 9u);
  EXPECT_EQ(h.find("no data"), std::string::npos);
  const std::vector<RequestRecord> failed{r[1]};
  const std::string hf = html_report(info(), summarize(failed), failed);  // nothing to plot but the timeline
  EXPECT_NE(hf.find("no data"), std::string::npos);
}

}  // namespace
}  // namespace rotor::loadgen
