// tests/tokenizer/test_tokenizer_cli.cpp — `rotor tokenize` and `rotor chat-template` on the
// command line (the built binary), with the embedded tokenizer and a tokenizer directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "tests/tokenizer/tokenizer_test_util.h"

namespace rotor {
namespace {

struct Result {
  int status;
  std::string out;
};

Result run(const std::string& args) {
  const std::string cmd = std::string(ROTOR_BINARY) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, ""};
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  return {::pclose(p), out};
}

TEST(TokenizerCli, TokenizeTextAndIds) {
  Result r = run("tokenize --text 'Hello world<|im_end|>'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "[9707,1879,151645]\n");
  r = run("tokenize --ids 9707,1879,151645");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "\"Hello world<|im_end|>\"\n");
  const auto dir = test::shared_dir() / "tokenizers" / "qwen3";
  if (std::filesystem::exists(dir)) {
    r = run("tokenize --tokenizer " + dir.string() + " --text 'Привет, мир!'");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, "[53645,26991,8178,11,137144,0]\n");
  }
}

TEST(TokenizerCli, BadInputIsAOneLineError) {
  for (const char* args : {"tokenize --ids 12,x", "tokenize --ids 99999999", "tokenize", "tokenize --tokenizer /nonexistent --text a",
                           "chat-template --request /nonexistent.json"}) {
    const Result r = run(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_TRUE(r.out.starts_with("error: ") && r.out.find('\n') == r.out.size() - 1) << args << ": " << r.out;
  }
}

TEST(TokenizerCli, ChatTemplateRendersSharedCases) {
  const auto path = test::shared_dir() / "fixtures" / "text" / "chat_template_cases.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  const auto cases = test::read_json(path);
  const std::string file = "/tmp/rotor-chat-" + std::to_string(::getpid()) + ".json";
  for (size_t i : {size_t{0}, size_t{5}}) {
    {
      std::ofstream f(file);
      f << cases[i].dump();
    }
    const Result r = run("chat-template --request " + file);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, cases[i]["rendered"].get<std::string>());
    const Result j = run("chat-template --tokenizer " + (test::shared_dir() / "tokenizers" / "qwen3").string() +
                         " --output json --request " + file);
    ASSERT_EQ(j.status, 0) << j.out;
    EXPECT_EQ(nlohmann::json::parse(j.out)["ids"], cases[i]["ids"]);
  }
  std::remove(file.c_str());
}

}  // namespace
}  // namespace rotor
