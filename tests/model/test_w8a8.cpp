// tests/model/test_w8a8.cpp — W8A8 checkpoints against w8a8_ref.py on every W8A8 fixture
// (last-position logits within 5e-3, argmax at >= 98% of prompt positions; whole, chunked and
// through `rotor generate --output json`), and the loader on rewritten copies of the fixture:
// every scale dtype variant, shards, and a one-line error naming the tensor for each defect.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <optional>

#include "core/bf16.h"
#include "kernels/backend.h"
#include "model/loader.h"
#include "model/safetensors_writer.h"
#include "tests/support/fixture_util.h"
#include "tests/support/reference.h"

namespace rotor {
namespace {
namespace fs = std::filesystem;

class W8A8Fixture : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Ops> ops = make_cpu_ops();
};

TEST_P(W8A8Fixture, MatchesReferenceInProcess) {
  const fs::path dir = test::fixtures_dir() / GetParam();
  const test::Reference ref = test::read_reference(dir);
  for (int chunk : {0, 3}) {
    const auto res = test::run_prompts(*ops, dir, ref.ids, chunk);
    size_t same = 0, total = 0;
    double worst = 0;
    for (size_t i = 0; i < ref.ids.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "prompt " << i << " chunk " << chunk);
      const double err = test::rel_err(ref.last_logits[i], res[i].prompt_logits);
      worst = std::max(worst, err);
      EXPECT_LT(err, 5e-3);
      for (size_t p = 0; p < ref.argmax[i].size(); ++p) same += ref.argmax[i][p] == res[i].prompt_argmax[p];
      total += ref.argmax[i].size();
    }
    EXPECT_GE(double(same) / double(total), 0.98) << same << " of " << total;
    std::printf("chunk %d: worst last-logit rel. error %.2e, argmax %zu of %zu\n", chunk, worst, same, total);
  }
}

TEST_P(W8A8Fixture, MatchesReferenceThroughGenerateCli) {
  const fs::path dir = test::fixtures_dir() / GetParam();
  const test::Reference ref = test::read_reference(dir);
  std::string cmd = std::string(ROTOR_BINARY) + " --log-level warn generate " + dir.string() +
                    " --max-tokens 1 --output json --device cpu";
  for (const auto& ids : ref.ids) {
    cmd += " --prompt-ids ";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) cmd += ',';
      cmd += std::to_string(ids[i]);
    }
  }
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << out;
  std::istringstream lines(out);
  std::string line;
  size_t i = 0, same = 0, total = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(i, ref.ids.size()) << out;
    const auto j = nlohmann::json::parse(line);
    const auto argmax = j["prompt_argmax"].get<std::vector<int32_t>>();
    ASSERT_EQ(argmax.size(), ref.argmax[i].size());
    for (size_t k = 0; k < argmax.size(); ++k) same += argmax[k] == ref.argmax[i][k];
    total += argmax.size();
    ++i;
  }
  EXPECT_EQ(i, ref.ids.size());
  EXPECT_GE(double(same) / double(total), 0.98) << same << " of " << total;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, W8A8Fixture, ::testing::ValuesIn(test::w8a8_fixtures()),
                         [](const auto& info) { return test::fixture_name(info.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(W8A8Fixture);

// A tensor as rewritten into a copy of the fixture.
struct NewTensor {
  DType dtype;
  Shape shape;
  std::vector<char> bytes;
};
// Returns the replacement of (name, tensor), std::nullopt to keep it as is.
using Rewrite = std::function<std::optional<NewTensor>(const std::string&, const Tensor&)>;

class W8A8Loader : public ::testing::Test {
 protected:
  void SetUp() override {
    src = test::fixtures_dir() / "tiny-qwen3-moe-w8a8";
    if (!fs::exists(src)) GTEST_SKIP() << "no " << src;
    dir = fs::temp_directory_path() / ("rotor-w8a8-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ifstream d(src / "quant_model_description.json");
    desc = nlohmann::json::parse(d);
  }
  void TearDown() override { fs::remove_all(dir); }

  // Writes config, description and the fixture's tensors (through `rewrite`) into dir.
  void write(const Rewrite& rewrite = {}, size_t shard_bytes = size_t{1} << 40) {
    fs::copy_file(src / "config.json", dir / "config.json", fs::copy_options::overwrite_existing);
    std::ofstream(dir / "quant_model_description.json") << desc.dump(1);
    SafetensorsFile in(src / "quant_model_weight_w8a8.safetensors");
    std::map<std::string, NewTensor> changed;
    SafetensorsWriter w(dir, "quant_model_weight_w8a8", shard_bytes);
    for (const std::string& name : in.names()) {
      const Tensor t = in.get(name);
      if (rewrite)
        if (auto n = rewrite(name, t)) {
          if (n->shape.ndim() == 0 && n->bytes.empty()) continue;  // dropped
          changed[name] = *n;
          w.plan(name, n->dtype, n->shape);
          continue;
        }
      w.plan(name, t.dtype(), t.shape());
    }
    w.begin();
    for (const std::string& name : in.names()) {
      auto it = changed.find(name);
      if (it != changed.end())
        w.write(name, Tensor(it->second.bytes.data(), it->second.dtype, it->second.shape));
      else if (w.planned(name))
        w.write(name, in.get(name));
    }
    w.finish();
  }
  std::string load_error() {
    try {
      LoadOptions o;
      o.model = dir;
      load_model(o, *ops);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }
  static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  static NewTensor f32_to(const Tensor& t, DType dtype, Shape shape) {
    NewTensor n{dtype, shape, std::vector<char>(t.numel() * dtype_size(dtype))};
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float v = t.data<float>()[i];
      if (dtype == DType::BF16) {
        const uint16_t b = f32_to_bf16(v);
        std::memcpy(&n.bytes[2 * i], &b, 2);
      } else if (dtype == DType::I64) {  // fp32 bits, sign-extended as msmodelslim writes them
        int32_t bits;
        std::memcpy(&bits, &v, 4);
        const int64_t wide = bits;
        std::memcpy(&n.bytes[8 * i], &wide, 8);
      } else {
        std::memcpy(&n.bytes[4 * i], &v, 4);
      }
    }
    return n;
  }

  fs::path src, dir;
  nlohmann::json desc;
  std::unique_ptr<Ops> ops = make_cpu_ops();
};

TEST_F(W8A8Loader, ScaleDtypeVariantsAndShardsGiveTheSameModel) {
  const test::Reference ref = test::read_reference(src);
  const auto base = test::run_prompts(*ops, src, ref.ids);
  // deq_scale as int64 fp32 bits, weight_scale [N] instead of [N, 1], four shards.
  write(
      [&](const std::string& name, const Tensor& t) -> std::optional<NewTensor> {
        if (ends_with(name, ".deq_scale")) return f32_to(t, DType::I64, t.shape());
        if (ends_with(name, ".weight_scale") && name.find("experts") != std::string::npos)
          return f32_to(t, DType::F32, {t.size(0)});
        return std::nullopt;
      },
      size_t{12} << 20);
  ASSERT_TRUE(fs::exists(dir / "quant_model_weight_w8a8.safetensors.index.json"));
  const auto got = test::run_prompts(*ops, dir, ref.ids);
  for (size_t i = 0; i < ref.ids.size(); ++i) {
    EXPECT_EQ(got[i].prompt_logits, base[i].prompt_logits);
    EXPECT_EQ(got[i].prompt_argmax, base[i].prompt_argmax);
  }
}

TEST_F(W8A8Loader, Bf16ScalesLoadAsTheirValues) {
  write([&](const std::string& name, const Tensor& t) -> std::optional<NewTensor> {
    if (ends_with(name, ".input_scale") || ends_with(name, ".input_offset") || ends_with(name, ".weight_scale"))
      return f32_to(t, DType::BF16, t.shape());
    return std::nullopt;
  });
  LoadOptions o;
  o.model = dir;
  const LoadedModel m = load_model(o, *ops);
  SafetensorsFile in(src / "quant_model_weight_w8a8.safetensors");
  const LinearWeight& k = m.weights.layers[1].qkv[1];
  EXPECT_EQ(k.kind, QuantKind::W8A8Static);
  EXPECT_EQ(k.input_scale, round_to_bf16(in.get("model.layers.1.self_attn.k_proj.input_scale").data<float>()[0]));
  EXPECT_EQ(k.input_offset, in.get("model.layers.1.self_attn.k_proj.input_offset").data<float>()[0]);
  const LinearWeight& d = m.weights.layers[2].experts.down[5];
  EXPECT_EQ(d.kind, QuantKind::W8A8Dynamic);
  const Tensor ws = in.get("model.layers.2.mlp.experts.5.down_proj.weight_scale");
  for (int64_t n = 0; n < ws.numel(); ++n) ASSERT_EQ(d.weight_scale.data<float>()[n], round_to_bf16(ws.data<float>()[n]));
  EXPECT_TRUE(m.weights.layers[0].input_norm_bias.defined());   // the smoothing shift
  EXPECT_FALSE(m.weights.layers[0].post_norm_bias.defined());
}

TEST_F(W8A8Loader, DescriptionNamingAMissingTensor) {
  desc["model.layers.3.self_attn.o_proj.smooth_scale"] = "W8A8";
  write();
  const std::string e = load_error();
  EXPECT_NE(e.find("'model.layers.3.self_attn.o_proj.smooth_scale'"), std::string::npos) << e;
  EXPECT_NE(e.find("quant_model_description.json"), std::string::npos) << e;
}

TEST_F(W8A8Loader, MissingScaleIsNamed) {
  write([](const std::string& name, const Tensor&) -> std::optional<NewTensor> {
    if (name == "model.layers.2.self_attn.v_proj.deq_scale") return NewTensor{DType::F32, {}, {}};
    return std::nullopt;
  });
  const std::string e = load_error();
  EXPECT_NE(e.find("model.layers.2.self_attn.v_proj.deq_scale"), std::string::npos) << e;
}

TEST_F(W8A8Loader, ScaleOfTheWrongShapeIsNamed) {
  write([&](const std::string& name, const Tensor& t) -> std::optional<NewTensor> {
    if (name == "model.layers.1.self_attn.q_proj.deq_scale") return f32_to(t.rows(0, 7), DType::F32, {7});
    return std::nullopt;
  });
  std::string e = load_error();
  EXPECT_NE(e.find("model.layers.1.self_attn.q_proj.deq_scale"), std::string::npos) << e;
  EXPECT_NE(e.find("shape"), std::string::npos) << e;
  write([&](const std::string& name, const Tensor& t) -> std::optional<NewTensor> {
    if (name == "model.layers.0.mlp.experts.3.up_proj.weight_scale") return f32_to(t, DType::F32, {8, 8});
    return std::nullopt;
  });
  e = load_error();
  EXPECT_NE(e.find("model.layers.0.mlp.experts.3.up_proj.weight_scale"), std::string::npos) << e;
}

TEST_F(W8A8Loader, UnknownQuantisationTypeIsNamed) {
  desc["model.layers.0.mlp.experts.1.gate_proj.weight"] = "W4A8_DYNAMIC";
  write();
  const std::string e = load_error();
  EXPECT_NE(e.find("model.layers.0.mlp.experts.1.gate_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("W4A8_DYNAMIC"), std::string::npos) << e;
}

TEST_F(W8A8Loader, IntWeightDescribedAsFloatIsNamed) {
  desc["model.layers.1.self_attn.o_proj.weight"] = "FLOAT";
  write();
  const std::string e = load_error();
  EXPECT_NE(e.find("model.layers.1.self_attn.o_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("dtype"), std::string::npos) << e;
}

TEST_F(W8A8Loader, QuantizationFlagNeedsADescription) {
  LoadOptions o;
  o.model = test::fixtures_dir() / "tiny-qwen3-moe";
  o.quantization = "ascend";
  try {
    load_model(o, *ops);
    FAIL() << "loaded a bf16 checkpoint as W8A8";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("quant_model_description.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rotor
