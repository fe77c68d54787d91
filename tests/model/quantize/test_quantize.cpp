// tests/model/quantize/test_quantize.cpp — `rotor quantize` on every bf16 fixture: the rotated (and
// smoothed) float model gives the source's logits (relative error < 1e-4), the calibration's
// own forward pass agrees with the model, and the W8A8 result loads and agrees with the bf16
// model about as well as w8a8_ref.py's checkpoint does (W8A8.md: rel. error 0.024-0.029,
// argmax 87-100% per prompt).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>

#include "kernels/backend.h"
#include "model/quantize/quantize_model.h"
#include "model/quantize/rotation.h"
#include "tests/support/fixture_util.h"
#include "tests/support/reference.h"

namespace rotor {
namespace {
namespace fs = std::filesystem;

TEST(Rotation, IsOrthogonalAndMatchesDenseProduct) {
  for (int64_t n : {1, 8, 64, 96, 128}) {
    Rotation r(n, 3);
    // Dense R from rotating the identity's rows: row i of I R is R's row i.
    std::vector<double> R(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) R[i * n + i] = 1.0;
    r.right(R.data(), n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t k = 0; k < n; ++k) dot += R[i * n + k] * R[j * n + k];
        ASSERT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-12) << n;
      }
    // left_transpose(w) == R^T w for a random w [n, 5].
    const int64_t cols = 5;
    std::vector<double> w(n * cols), want(n * cols, 0.0);
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.7 * double(i) + 0.1);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t k = 0; k < n; ++k) want[i * cols + c] += R[k * n + i] * w[k * cols + c];
    r.left_transpose(w.data(), cols);
    for (size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(w[i], want[i], 1e-12);
  }
}

class Quantize : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    src = test::fixtures_dir() / GetParam();
    ref = test::read_reference(src);
    base = fs::temp_directory_path() / ("rotor-quantize-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base);
    fs::create_directories(base);
    source = test::run_prompts(*ops, src, ref.ids);
  }
  void TearDown() override { fs::remove_all(base); }

  fs::path src, base;
  test::Reference ref;
  std::vector<OfflineResult> source;
  std::unique_ptr<Ops> ops = make_cpu_ops();
};

TEST_P(Quantize, RotatedAndSmoothedFloatModelMatchesSource) {
  for (bool smooth : {false, true}) {
    QuantizeOptions o;
    o.src = src;
    o.out = base / (smooth ? "rot-smooth" : "rot");
    o.rotate = true;
    o.smooth = smooth;
    o.quantize = false;
    if (smooth) o.calibration = ref.ids;
    const QuantizeReport report = quantize_model(o);
    const auto got = test::run_prompts(*ops, o.out, ref.ids);
    for (size_t i = 0; i < ref.ids.size(); ++i) {
      const double err = test::rel_err(source[i].prompt_logits, got[i].prompt_logits);
      std::printf("%s prompt %zu: rel. error vs source %.2e\n", smooth ? "rotated+smoothed" : "rotated", i, err);
      EXPECT_LT(err, 1e-4);
      EXPECT_EQ(got[i].prompt_argmax, source[i].prompt_argmax);
      if (smooth) {  // the calibration's forward pass is the model's
        EXPECT_LT(test::rel_err(source[i].prompt_logits, report.last_logits[i]), 1e-4);
      }
    }
  }
}

TEST_P(Quantize, W8A8ThroughTheCliAgreesLikeTheReference) {
  const fs::path out = base / "w8a8", ids = base / "calib.txt";
  {
    std::ofstream f(ids);
    for (const auto& p : ref.ids) {
      for (size_t i = 0; i < p.size(); ++i) f << (i ? "," : "") << p[i];
      f << "\n";
    }
  }
  const std::string cmd = std::string(ROTOR_BINARY) + " --log-level warn quantize --src " + src.string() +
                          " --out " + out.string() + " --rotate --smooth --calib-ids " + ids.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  ASSERT_TRUE(fs::exists(out / "quant_model_description.json"));
  const auto got = test::run_prompts(*ops, out, ref.ids);
  double worst = 0, agree = 0;
  for (size_t i = 0; i < ref.ids.size(); ++i) {
    const double err = test::rel_err(ref.last_logits[i], got[i].prompt_logits);
    const double a = test::agreement(ref.argmax[i], got[i].prompt_argmax);
    std::printf("W8A8 prompt %zu: rel. error vs bf16 %.4f, argmax agreement %.3f\n", i, err, a);
    worst = std::max(worst, err);
    agree += a / double(ref.ids.size());
    EXPECT_LT(err, 0.05);
    EXPECT_GE(a, 0.7);
  }
  EXPECT_GE(agree, 0.85);
}

// --calib FILE.txt: the prompts' text, tokenized by rotor (the fixture's tokenizer, else the
// embedded Qwen3 one) and cut into sequences; the result agrees with the bf16 model about as
// well as with id calibration.
TEST_P(Quantize, CalibratesFromTextThroughTheCli) {
  const fs::path out = base / "w8a8-text", text = base / "calib.txt";
  {
    std::ifstream rj(src / "reference.json");
    const nlohmann::json j = nlohmann::json::parse(rj);
    std::ofstream f(text);
    for (const auto& p : j["prompts"]) f << p["text"].get<std::string>() << "\n\n";  // one document each
  }
  const std::string base_cmd = std::string(ROTOR_BINARY) + " --log-level warn quantize --src " + src.string() +
                               " --out " + out.string() + " --rotate --smooth --calib ";
  ASSERT_NE(std::system((base_cmd + (base / "missing.txt").string() + " 2>/dev/null").c_str()), 0);
  ASSERT_EQ(std::system((base_cmd + text.string()).c_str()), 0);
  const auto got = test::run_prompts(*ops, out, ref.ids);
  double agree = 0;
  for (size_t i = 0; i < ref.ids.size(); ++i) {
    const double err = test::rel_err(ref.last_logits[i], got[i].prompt_logits);
    const double a = test::agreement(ref.argmax[i], got[i].prompt_argmax);
    std::printf("W8A8 (text calibration) prompt %zu: rel. error vs bf16 %.4f, argmax agreement %.3f\n", i, err, a);
    EXPECT_LT(err, 0.06);
    agree += a / double(ref.ids.size());
  }
  EXPECT_GE(agree, 0.8);
}

TEST_P(Quantize, NeedsCalibrationAndAFloatSource) {
  QuantizeOptions o;
  o.src = src;
  o.out = base / "x";
  o.rotate = true;
  try {
    quantize_model(o);
    FAIL() << "quantised without calibration data";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("calibration"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Quantize, ::testing::ValuesIn(test::bf16_fixtures()),
                         [](const auto& info) { return test::fixture_name(info.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Quantize);

}  // namespace
}  // namespace rotor
