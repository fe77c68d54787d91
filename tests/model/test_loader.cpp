// tests/model/test_loader.cpp — config parsing and checkpoint validation: every broken
// checkpoint is rejected with a one-line error naming the problem and the tensor; dummy
// weights; the `rotor generate` command line on a dummy Qwen3-30B-A3B.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/support/offline_generate.h"
#include "kernels/backend.h"
#include "model/load_model.h"
#include "model/safetensors.h"

namespace rotor {
namespace {
namespace fs = std::filesystem;

nlohmann::json tiny_config() {
  return {{"model_type", "qwen3_moe"}, {"vocab_size", 32},         {"hidden_size", 8},
          {"num_hidden_layers", 2},    {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"head_dim", 4},             {"num_experts", 4},         {"num_experts_per_tok", 2},
          {"moe_intermediate_size", 6}, {"norm_topk_prob", true},  {"rope_theta", 10000.0},
          {"rms_norm_eps", 1e-6},      {"tie_word_embeddings", false}, {"torch_dtype", "bfloat16"}};
}

struct Entry {
  Entry(std::string d = {}, std::vector<int64_t> s = {}, std::vector<uint8_t> b = {})
      : dtype(std::move(d)), shape(std::move(s)), bytes(std::move(b)) {}
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // the data; empty: a finite filler pattern
};

// Tensor name -> (dtype, shape) of a complete checkpoint for a config.
std::map<std::string, Entry> checkpoint_layout(const nlohmann::json& c) {
  const int64_t H = c["hidden_size"], V = c["vocab_size"], hd = c["head_dim"], Hq = c["num_attention_heads"],
                Hkv = c["num_key_value_heads"], E = c["num_experts"], I = c["moe_intermediate_size"];
  std::map<std::string, Entry> m;
  m["model.embed_tokens.weight"] = {"BF16", {V, H}};
  m["model.norm.weight"] = {"BF16", {H}};
  m["lm_head.weight"] = {"BF16", {V, H}};
  for (int l = 0; l < c["num_hidden_layers"].get<int>(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    m[p + "input_layernorm.weight"] = {"BF16", {H}};
    m[p + "post_attention_layernorm.weight"] = {"BF16", {H}};
    m[p + "self_attn.q_proj.weight"] = {"BF16", {Hq * hd, H}};
    m[p + "self_attn.k_proj.weight"] = {"BF16", {Hkv * hd, H}};
    m[p + "self_attn.v_proj.weight"] = {"BF16", {Hkv * hd, H}};
    m[p + "self_attn.o_proj.weight"] = {"BF16", {H, Hq * hd}};
    m[p + "self_attn.q_norm.weight"] = {"BF16", {hd}};
    m[p + "self_attn.k_norm.weight"] = {"BF16", {hd}};
    m[p + "mlp.gate.weight"] = {"BF16", {E, H}};
    for (int e = 0; e < E; ++e) {
      const std::string q = p + "mlp.experts." + std::to_string(e) + ".";
      m[q + "gate_proj.weight"] = {"BF16", {I, H}};
      m[q + "up_proj.weight"] = {"BF16", {I, H}};
      m[q + "down_proj.weight"] = {"BF16", {H, I}};
    }
  }
  return m;
}

size_t entry_bytes(const Entry& e) {
  size_t n = *dtype_from_name(e.dtype) == DType::F32 ? 4 : (e.dtype == "I8" ? 1 : 2);
  for (auto d : e.shape) n *= d;
  return n;
}

void write_safetensors(const fs::path& path, const std::map<std::string, Entry>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  size_t off = 0;
  for (auto& [name, e] : tensors) {
    header[name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {off, off + entry_bytes(e)}}};
    off += entry_bytes(e);
  }
  const std::string h = header.dump();
  std::ofstream f(path, std::ios::binary);
  const uint64_t len = h.size();
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << h;
  std::vector<char> data(off);
  for (size_t i = 1; i < off; i += 2) data[i] = 0x3f;  // bf16 ~ 0.5..1: finite values
  off = 0;
  for (auto& [name, e] : tensors) {
    std::copy(e.bytes.begin(), e.bytes.end(), data.begin() + static_cast<std::ptrdiff_t>(off));
    off += entry_bytes(e);
  }
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

class Loader : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("rotor-loader-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    config = tiny_config();
    tensors = checkpoint_layout(config);
  }
  void TearDown() override { fs::remove_all(dir); }
  void write() {
    std::ofstream(dir / "config.json") << config.dump();
    write_safetensors(dir / "model.safetensors", tensors);
  }
  // Loads and returns the error message ("" when it loads).
  std::string load_error() {
    try {
      auto ops = make_cpu_ops();
      LoadOptions o;
      o.model = dir;
      load_model(o, *ops);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }
  fs::path dir;
  nlohmann::json config;
  std::map<std::string, Entry> tensors;
};

TEST_F(Loader, CompleteCheckpointLoadsAndRuns) {
  write();
  EXPECT_EQ(load_error(), "");
  auto ops = make_cpu_ops();
  auto comm = make_local_comm();
  LoadOptions o;
  o.model = dir;
  LoadedModel m = load_model(o, *ops);
  std::vector<OfflineRequest> reqs(1);
  reqs[0].prompt = {1, 2, 3};
  reqs[0].params.temperature = 0;
  reqs[0].max_tokens = 4;
  reqs[0].ignore_eos = true;
  RunnerOptions ro;
  ro.num_blocks = offline_blocks_needed(reqs, ro.block_size);
  ro.max_model_len = 7;
  ro.max_num_seqs = 1;
  ro.max_num_tokens = 7;
  ModelRunner runner(*ops, *comm, m.config, std::move(m.weights), ro);
  auto res = generate_offline(runner, reqs, 0, {});
  EXPECT_EQ(res[0].output.size(), 4u);
}

Entry f32_scalar(float v, std::vector<int64_t> shape = {}) {
  Entry e{"F32", std::move(shape), std::vector<uint8_t>(4)};
  std::memcpy(e.bytes.data(), &v, 4);
  return e;
}

// Every naming of vLLM's KV cache scales, per layer; a layer without any gets 1; one scale of
// a pair (or the old kv_scale) serves both.
TEST_F(Loader, KvCacheScalesUnderVllmsNames) {
  const std::string p0 = "model.layers.0.self_attn.", p1 = "model.layers.1.self_attn.";
  struct Case {
    std::map<std::string, Entry> add;
    std::vector<float> k, v;
  };
  const std::vector<Case> cases = {
      {{}, {}, {}},
      {{{p0 + "k_scale", f32_scalar(0.5f)}, {p0 + "v_scale", f32_scalar(0.25f, {1})}}, {0.5f, 1.0f}, {0.25f, 1.0f}},
      {{{p1 + "k_proj.k_scale", f32_scalar(2.0f)}, {p1 + "v_proj.v_scale", f32_scalar(3.0f)}}, {1.0f, 2.0f},
       {1.0f, 3.0f}},
      {{{p0 + "k_proj.output_scale", f32_scalar(0.125f)}, {p0 + "v_proj.output_scale", f32_scalar(0.0625f)},
        {p1 + "kv_scale", f32_scalar(4.0f)}},
       {0.125f, 4.0f},
       {0.0625f, 4.0f}},
      {{{p0 + "v_scale", {"BF16", {}, {0x80, 0x3e}}}}, {0.25f, 1.0f}, {0.25f, 1.0f}},  // bf16 0.25, alone
  };
  const auto base = tensors;
  for (const Case& c : cases) {
    tensors = base;
    for (const auto& [n, e] : c.add) tensors[n] = e;
    write();
    auto ops = make_cpu_ops();
    LoadOptions o;
    o.model = dir;
    const LoadedModel m = load_model(o, *ops);
    EXPECT_EQ(m.weights.k_scale, c.k) << c.add.size();
    EXPECT_EQ(m.weights.v_scale, c.v) << c.add.size();
  }
  for (const auto& [bad, part] : std::vector<std::pair<Entry, std::string>>{
           {f32_scalar(-1.0f), "positive"}, {{"F32", {2}, {}}, "one scale per layer"}, {{"I8", {}, {}}, "dtype"}}) {
    tensors = base;
    tensors[p1 + "k_scale"] = bad;
    write();
    const std::string e = load_error();
    EXPECT_NE(e.find(p1 + "k_scale"), std::string::npos) << e;
    EXPECT_NE(e.find(part), std::string::npos) << e;
  }
}

TEST_F(Loader, MissingTensorIsNamed) {
  tensors.erase("model.layers.1.mlp.experts.3.up_proj.weight");
  write();
  const std::string e = load_error();
  EXPECT_NE(e.find("model.layers.1.mlp.experts.3.up_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
}

TEST_F(Loader, WrongShapeIsNamed) {
  tensors["model.layers.0.self_attn.k_proj.weight"].shape = {7, 8};
  write();
  const std::string e = load_error();
  EXPECT_NE(e.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("shape"), std::string::npos) << e;
}

TEST_F(Loader, WrongDtypeIsNamed) {
  tensors["model.norm.weight"].dtype = "I8";
  write();
  const std::string e = load_error();
  EXPECT_NE(e.find("model.norm.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("dtype"), std::string::npos) << e;
}

TEST_F(Loader, TruncatedFileIsNamed) {
  write();
  fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 10);
  const std::string e = load_error();
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
}

TEST_F(Loader, CorruptHeaderIsReported) {
  write();
  {
    std::fstream f(dir / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    f.write("\x01\x02{{", 4);
  }
  EXPECT_NE(load_error().find("corrupt header"), std::string::npos);
  {
    std::ofstream f(dir / "model.safetensors", std::ios::binary);
    const uint64_t huge = 1ull << 40;
    f.write(reinterpret_cast<const char*>(&huge), 8);
  }
  EXPECT_NE(load_error().find("corrupt header"), std::string::npos);
}

// One tensor in a safetensors file whose header is `pad` bytes longer than its JSON (the data
// then starts at 8 + JSON + pad), so the tensor's alignment is chosen by the test.
void write_one(const fs::path& path, const std::string& dtype, const std::vector<uint64_t>& shape,
               const std::vector<uint8_t>& bytes, size_t pad) {
  const nlohmann::json header = {{"t", {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {0, bytes.size()}}}}};
  const std::string h = header.dump() + std::string(pad, ' ');
  std::ofstream f(path, std::ios::binary);
  const uint64_t len = h.size();
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << h;
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A tensor the file does not align to its element size reads the same values from memory of its
// own (readers load elements as their type: a misaligned float is undefined behaviour).
TEST_F(Loader, UnalignedTensorIsReadIntoAlignedMemory) {
  std::vector<uint8_t> bytes(4 * 5);
  for (size_t i = 0; i < 5; ++i) {
    const float v = 0.25f * static_cast<float>(i) - 1.0f;
    std::memcpy(bytes.data() + 4 * i, &v, 4);
  }
  for (size_t pad = 0; pad < 8; ++pad) {
    write_one(dir / "one.safetensors", "F32", {5}, bytes, pad);
    const SafetensorsFile f(dir / "one.safetensors");
    const Tensor t = f.get("t");
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 4, 0u) << "pad " << pad;
    EXPECT_EQ(std::memcmp(t.data(), bytes.data(), bytes.size()), 0) << "pad " << pad;
    const bool aligned_in_file = f.contains(t.data());
    EXPECT_EQ(f.copied_bytes(), aligned_in_file ? 0u : bytes.size()) << "pad " << pad;
  }
}

// Dimensions whose product wraps around 64 bits are refused, not taken as the bytes they wrap to.
TEST_F(Loader, ShapeThatOverflowsIsRefused) {
  for (const std::vector<uint64_t>& shape : {std::vector<uint64_t>{1ull << 62, 4}, {1ull << 40, 1ull << 40, 0},
                                             {1ull << 63, 1}}) {
    write_one(dir / "one.safetensors", "F32", shape, {}, 0);
    try {
      const SafetensorsFile f(dir / "one.safetensors");
      ADD_FAILURE() << "shape " << nlohmann::json(shape).dump() << " accepted";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("bad shape"), std::string::npos) << e.what();
    }
  }
}

TEST_F(Loader, UnsupportedModelTypeAndDenseLayers) {
  config["model_type"] = "llama";
  write();
  EXPECT_NE(load_error().find("unsupported model_type 'llama'"), std::string::npos);
  config = tiny_config();
  config["mlp_only_layers"] = {0};
  write();
  EXPECT_NE(load_error().find("dense MLP layers"), std::string::npos);
  config = tiny_config();
  config["decoder_sparse_step"] = 2;
  write();
  EXPECT_NE(load_error().find("decoder_sparse_step"), std::string::npos);
}

TEST_F(Loader, ShardedCheckpointThroughIndex) {
  std::map<std::string, Entry> a, b;
  nlohmann::json index = {{"weight_map", nlohmann::json::object()}};
  for (auto& [name, e] : tensors) {
    const bool first = name.find("layers.1.") == std::string::npos;
    (first ? a : b)[name] = e;
    index["weight_map"][name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  std::ofstream(dir / "config.json") << config.dump();
  write_safetensors(dir / "model-00001-of-00002.safetensors", a);
  write_safetensors(dir / "model-00002-of-00002.safetensors", b);
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  EXPECT_EQ(load_error(), "");
  fs::remove(dir / "model-00002-of-00002.safetensors");
  EXPECT_NE(load_error().find("model-00002-of-00002.safetensors"), std::string::npos);
}

TEST(Config, DefaultsAndParameterCount) {
  nlohmann::json j = tiny_config();
  j.erase("head_dim");
  j["tie_word_embeddings"] = true;
  ModelConfig c = ModelConfig::from_json(j);
  EXPECT_EQ(c.head_dim, 2);  // hidden / heads
  // embed 32*8 + norm 8 + per layer: attn 8*8*2 + 8*4*2 + 2*2, moe 4*3*8*6 + 4*8, norms 16
  EXPECT_EQ(c.parameter_count(), 32 * 8 + 8 + 2 * (128 + 64 + 4 + 576 + 32 + 16));
  j["num_experts_per_tok"] = 9;
  EXPECT_THROW(ModelConfig::from_json(j), Error);
}

TEST(Dummy, DeterministicForASeed) {
  auto ops = make_cpu_ops();
  ModelConfig c = ModelConfig::from_json(tiny_config());
  const ShardSpec one = ShardSpec::make(c, 0, 1);
  ModelWeights a = dummy_weights(c, 5, *ops, one), b = dummy_weights(c, 5, *ops, one), d = dummy_weights(c, 6, *ops, one);
  const Tensor& ta = a.layers[1].experts.down[3].weight;
  EXPECT_EQ(std::memcmp(ta.data(), b.layers[1].experts.down[3].weight.data(), ta.nbytes()), 0);
  EXPECT_NE(std::memcmp(ta.data(), d.layers[1].experts.down[3].weight.data(), ta.nbytes()), 0);
}

// W8A8 dummy weights: int8 where a W8A8 checkpoint has them (q/k/v/o static, experts dynamic
// and stacked with their scales), float router and lm_head; the scales are the int8 weights'
// (every row has a +-127); deterministic; and the model runs on them.
TEST(Dummy, W8A8LayoutRunsOnTheCpu) {
  auto ops = make_cpu_ops();
  auto comm = make_local_comm();
  ModelConfig c = ModelConfig::from_json(tiny_config());
  const ShardSpec one = ShardSpec::make(c, 0, 1);
  ModelWeights a = dummy_weights(c, 5, *ops, one, true), b = dummy_weights(c, 5, *ops, one, true);
  EXPECT_EQ(a.quantization, "w8a8");
  const LayerWeights& L = a.layers[1];
  for (const LinearWeight* w : {&L.qkv[0], &L.qkv[1], &L.qkv[2], &L.o_proj}) {
    EXPECT_EQ(w->kind, QuantKind::W8A8Static);
    EXPECT_EQ(w->weight.dtype(), DType::I8);
    EXPECT_EQ(w->deq_scale.numel(), w->out_features());
    EXPECT_GT(w->deq_scale.data<float>()[0], 0.0f);
  }
  EXPECT_FALSE(L.router.quantized());
  EXPECT_FALSE(a.lm_head.quantized());
  const ExpertWeights& e = L.experts;
  EXPECT_EQ(e.w13.dtype(), DType::I8);
  EXPECT_EQ(e.w13_scale.shape(), Shape({4, 12}));
  EXPECT_EQ(e.w2_scale.shape(), Shape({4, 8}));
  EXPECT_EQ(e.down[3].kind, QuantKind::W8A8Dynamic);
  EXPECT_EQ(e.down[3].weight_scale.data(), e.w2_scale.row_ptr(3));
  EXPECT_EQ(e.up[2].weight.data(), static_cast<const char*>(e.w13.row_ptr(2)) + 6 * 8);
  for (int64_t r = 0; r < e.up[2].out_features(); ++r) {
    int m = 0;
    for (int64_t k = 0; k < 8; ++k) m = std::max(m, std::abs(int{e.up[2].weight.data<int8_t>()[r * 8 + k]}));
    EXPECT_EQ(m, 127) << r;
  }
  EXPECT_EQ(std::memcmp(e.w2.data(), b.layers[1].experts.w2.data(), e.w2.nbytes()), 0);
  std::vector<OfflineRequest> reqs(1);
  reqs[0].prompt = {1, 2, 3};
  reqs[0].max_tokens = 4;
  reqs[0].ignore_eos = true;
  RunnerOptions ro;
  ro.num_blocks = 1;
  ro.max_model_len = 7;
  ro.max_num_seqs = 1;
  ro.max_num_tokens = 7;
  ModelRunner runner(*ops, *comm, c, std::move(a), ro);
  EXPECT_EQ(generate_offline(runner, reqs, 0, {})[0].output.size(), 4u);
}

// `rotor generate --load-format dummy` on the real Qwen3-30B-A3B config, 2 layers.
TEST(GenerateCli, DummyThirtyBTwoLayers) {
  const fs::path cfg = fs::path(ROTOR_SHARED_DIR) / "configs" / "qwen3-30b-a3b" / "config.json";
  if (!fs::exists(cfg)) GTEST_SKIP() << "no " << cfg;
  const fs::path err = fs::temp_directory_path() / ("rotor-gen-" + std::to_string(::getpid()) + ".err");
  const std::string cmd = std::string(ROTOR_BINARY) + " generate " + cfg.string() +
                          " --load-format dummy --num-layers 2 --prompt-ids 785,6722,315 --max-tokens 3 "
                          "--ignore-eos --device cpu --output json 2>" + err.string();
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["output_ids"].size(), 3u);
  EXPECT_EQ(j["prompt_argmax"].size(), 3u);
  std::ifstream e(err);
  const std::string log((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("parameters: " + std::to_string(ModelConfig::load(cfg).parameter_count())), std::string::npos)
      << log;
  EXPECT_NEAR(ModelConfig::load(cfg).parameter_count() / 1e9, 30.5, 0.2);
  fs::remove(err);
}

}  // namespace
}  // namespace rotor
