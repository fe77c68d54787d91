// model/quantize/quantize_model.cpp — the quantizer's driver: plans every output tensor (the
// architecture's weight walk), then goes through the model once (embeddings, each layer's
// attention, router and experts, final norm and lm_head) transforming, calibrating through
// the model's forward pass, quantising and writing as it goes.
#include "model/quantize/quantize_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/bf16.h"
#include "core/check.h"
#include "core/log.h"
#include "model/config.h"
#include "model/quant_description.h"
#include "model/quantize/calibration.h"
#include "model/quantize/quantize_linear.h"
#include "model/quantize/rotation.h"
#include "model/quantize/source_tensors.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"

namespace rotor {
namespace fs = std::filesystem;

namespace {

class Quantizer {
 public:
  explicit Quantizer(const QuantizeOptions& o)
      : o_(o), c_(ModelConfig::load(o.src / "config.json")), ops_(make_cpu_ops()) {
    ROTOR_CHECK(!QuantDescription::present(o.src), "{} is already a W8A8 checkpoint ({} is there)", o.src.string(),
                QuantDescription::kFileName);
    ck_ = Checkpoint::open(o.src, "model");
    for (const std::string& n : ck_->names()) {
      const bool bias = n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0;
      ROTOR_CHECK(!bias, "{}: the source has tensor '{}'; rotor quantize takes a plain bf16 checkpoint (no biases)",
                  o.src.string(), n);
    }
    calibrate_ = o.quantize || o.smooth;
    ROTOR_CHECK(!calibrate_ || !o.calibration.empty(),
                "quantisation and smoothing need calibration data (--calib FILE.txt or --calib-ids FILE)");
    fdt_ = o.quantize ? DType::BF16 : DType::F32;
    tied_source_ = c_.tie_word_embeddings && !ck_->has("lm_head.weight");
    if (o.rotate) {
      r1_.emplace(c_.hidden_size, o.seed);
      r2_.emplace(c_.head_dim, o.seed + 1);
    }
  }

  QuantizeReport run() {
    if (calibrate_) calib_.emplace(*ops_, c_, o_.calibration);  // checks the token ids before any output
    fs::create_directories(o_.out);
    writer_.emplace(o_.out, o_.quantize ? QuantDescription::kWeightPrefix : "model", o_.shard_bytes);
    plan();
    writer_->begin();
    QuantizeReport report;
    report.calibration_tokens = calib_ ? calib_->tokens() : 0;
    embeddings();
    for (int l = 0; l < c_.num_layers; ++l) {
      decoder_layer(l);
      ROTOR_LOG_INFO("quantize: layer {} of {} done", l + 1, c_.num_layers);
    }
    head(report);
    report.tensors = static_cast<int64_t>(desc_.size());
    writer_->finish();
    write_metadata();
    return report;
  }

 private:
  std::string layer(int l) const { return fmt::format("model.layers.{}.", l); }
  float out_value(double v) const {
    return fdt_ == DType::BF16 ? round_to_bf16(static_cast<float>(v)) : static_cast<float>(v);
  }
  std::vector<float> out_values(const std::vector<double>& v) const {
    std::vector<float> f(v.size());
    for (size_t i = 0; i < v.size(); ++i) f[i] = out_value(v[i]);
    return f;
  }

  void plan_float(const std::string& name, const Shape& shape) {
    writer_->plan(name, fdt_, shape);
    desc_[name] = "FLOAT";
  }
  void plan_linear(const std::string& prefix, QuantType type, int64_t n, int64_t k, bool bias) {
    if (o_.quantize) return plan_quantized_linear(*writer_, desc_, prefix, type, n, k);
    plan_float(prefix + ".weight", {n, k});
    if (bias) plan_float(prefix + ".bias", {n});
  }

  // Every output tensor, as the architecture walks the model: norms and embeddings float (the
  // smoothing shift of the norm before q/k/v too), linear layers int8 (static per tensor,
  // experts per token) unless not quantizable, q/k/v with the float bias that undoes the shift.
  class Planner final : public WeightVisitor {
   public:
    explicit Planner(Quantizer& q) : q_(q) {}
    void tensor(Tensor&, const TensorSpec& s) override {
      if (!s.optional || (q_.o_.smooth && smoothed(s.output))) q_.plan_float(s.name, s.shape);
    }
    void linear(LinearWeight&, const LinearSpec& s) override {
      if (!s.quantizable) return q_.plan_float(s.prefix + ".weight", {s.out, s.in});
      q_.plan_linear(s.prefix, QuantType::W8A8, s.out, s.in, q_.o_.smooth && smoothed(s.input));
    }
    void experts(ExpertWeights&, const ExpertsSpec& s) override {
      for (int64_t e = 0; e < s.num_experts; ++e)
        for (const LinearSpec& p : {s.gate_spec(e), s.up_spec(e), s.down_spec(e)})
          q_.plan_linear(p.prefix, QuantType::W8A8Dynamic, p.out, p.in, false);
    }

   private:
    static bool smoothed(const char* activation) { return activation && std::string(activation) == "attn_norm"; }
    Quantizer& q_;
  };

  void plan() {
    ModelWeights layout;
    layout.shard = ShardSpec::make(c_, 0, 1);
    Planner planner(*this);
    visit_weights(c_, layout, planner);
  }

  void write_float(const std::string& name, const std::vector<double>& v, const Shape& shape) {
    const std::vector<float> f = out_values(v);
    if (fdt_ == DType::F32) return writer_->write(name, Tensor(const_cast<float*>(f.data()), DType::F32, shape));
    std::vector<uint16_t> b(f.size());
    for (size_t i = 0; i < f.size(); ++i) b[i] = f32_to_bf16(f[i]);
    writer_->write(name, Tensor(b.data(), DType::BF16, shape));
  }
  // A float (FLOAT) linear layer or its W8A8 form; range/bias for static layers.
  void write_linear(const std::string& prefix, QuantType type, const Mat& w, int64_t n, int64_t k,
                    std::pair<double, double> range = {}, const std::vector<double>& bias = {}) {
    if (!o_.quantize) {
      write_float(prefix + ".weight", w, {n, k});
      if (!bias.empty()) write_float(prefix + ".bias", bias, {n});
      return;
    }
    if (type == QuantType::W8A8)
      write_quantized_linear(*writer_, prefix, quantize_static(w, n, k, range.first, range.second, bias));
    else
      write_quantized_linear(*writer_, prefix, quantize_dynamic(w, n, k));
  }

  // Rows of [V, H] (embeddings or lm_head) in blocks: scaled by `fold` columns when given,
  // rotated, rounded to the output dtype, written, and handed to `use(first_row, rows f32)`.
  template <typename Use>
  void stream_rows(const std::string& src, const std::string& dst, const std::vector<double>& fold, Use&& use) {
    const int64_t V = c_.vocab_size, H = c_.hidden_size, B = 4096;
    const Tensor t = ck_->get(src, {V, H});
    for (int64_t r0 = 0; r0 < V; r0 += B) {
      const int64_t n = std::min(B, V - r0);
      const Tensor block = t.rows(r0, r0 + n);
      Mat m = load_rows(block, n, H);
      release_pages(block);
      if (!fold.empty()) scale_columns(m, n, H, fold);
      if (r1_) r1_->right(m.data(), n);
      std::vector<float> f(n * H);
      for (int64_t i = 0; i < n * H; ++i) f[i] = out_value(m[i]);
      if (fdt_ == DType::F32) {
        writer_->write_rows(dst, r0, Tensor(f.data(), DType::F32, {n, H}));
      } else {
        std::vector<uint16_t> b(n * H);
        for (int64_t i = 0; i < n * H; ++i) b[i] = f32_to_bf16(f[i]);
        writer_->write_rows(dst, r0, Tensor(b.data(), DType::BF16, {n, H}));
      }
      use(r0, f);
    }
  }
  void embeddings() {
    const int64_t H = c_.hidden_size;
    stream_rows("model.embed_tokens.weight", "model.embed_tokens.weight", {}, [&](int64_t r0, const std::vector<float>& f) {
      if (!calib_) return;
      const int64_t n = static_cast<int64_t>(f.size()) / H;
      for (int64_t r = 0; r < n; ++r)
        if (float* row = calib_->embedding_row(static_cast<int32_t>(r0 + r))) std::copy_n(&f[r * H], H, row);
    });
    if (calib_) calib_->embed();
  }

  // One layer's attention weights as the quantizer transforms them.
  struct Attention {
    Mat q, k, v, o;
    std::vector<double> g, beta, bq, bk, bv;  // input norm weight, its smoothing shift, q/k/v biases
    std::pair<double, double> x_range, o_range;
  };
  // One layer's float MoE weights for the calibration's forward pass.
  struct Moe {
    std::vector<double> g;
    std::optional<FloatLinear> router;
    std::vector<FloatLinear> experts;  // gate, up, down of each expert
  };

  void decoder_layer(int l) {
    Attention a = attention_weights(l);
    Moe m = moe_layer(l);
    if (calib_) calibrate(l, a, m);
    write_attention(l, a);
  }

  // q/k/v/o and the input norm, rotated, the norm folded in (rounded to the output dtype).
  Attention attention_weights(int l) {
    const std::string p = layer(l);
    const int64_t H = c_.hidden_size, Q = c_.q_size(), KV = c_.kv_size();
    Attention a;
    a.q = load_matrix(*ck_, p + "self_attn.q_proj.weight", Q, H);
    a.k = load_matrix(*ck_, p + "self_attn.k_proj.weight", KV, H);
    a.v = load_matrix(*ck_, p + "self_attn.v_proj.weight", KV, H);
    a.o = load_matrix(*ck_, p + "self_attn.o_proj.weight", H, Q);
    a.g = load_vector(*ck_, p + "input_layernorm.weight", H);
    if (r1_) {
      for (Mat* w : {&a.q, &a.k, &a.v}) scale_columns(*w, w == &a.q ? Q : KV, H, a.g);
      std::fill(a.g.begin(), a.g.end(), 1.0);
      r1_->right(a.q.data(), Q);
      r1_->right(a.k.data(), KV);
      r1_->right(a.v.data(), KV);
      r1_->left_transpose(a.o.data(), Q);
      r2_->right_per_head(a.o.data(), H, c_.num_heads);
      r2_->left_transpose_per_head(a.v.data(), c_.num_kv_heads, H);
    }
    for (double& x : a.g) x = out_value(x);
    return a;
  }

  // Runs layer l of the float model over the calibration tokens: the attention's input gives
  // the smoothing (then the range of the smoothed input, through the same norm op), o_proj's
  // input its range. The model runs the unsmoothed float weights, which smoothing leaves exact.
  void calibrate(int l, Attention& a, Moe& m) {
    const std::string p = layer(l);
    const int64_t H = c_.hidden_size, hd = c_.head_dim, Q = c_.q_size(), KV = c_.kv_size();
    const FloatLinear fq(a.q, Q, H), fk(a.k, KV, H), fv(a.v, KV, H), fo(a.o, H, Q);
    const OwnedTensor g = float_vector(a.g), g2 = float_vector(m.g),
                      qn = float_vector(load_vector(*ck_, p + "self_attn.q_norm.weight", hd)),
                      kn = float_vector(load_vector(*ck_, p + "self_attn.k_norm.weight", hd));
    LayerWeights L;
    L.input_norm = g.tensor;
    L.q_norm = qn.tensor;
    L.k_norm = kn.tensor;
    L.qkv = {fq.lw, fk.lw, fv.lw};
    L.o_proj = fo.lw;
    L.post_norm = g2.tensor;
    L.router = m.router->lw;
    L.experts.num_experts = c_.num_experts;
    L.experts.hidden = c_.hidden_size;
    L.experts.inter = c_.moe_intermediate_size;
    for (size_t e = 0; e < m.experts.size(); e += 3) {
      L.experts.gate.push_back(m.experts[e].lw);
      L.experts.up.push_back(m.experts[e + 1].lw);
      L.experts.down.push_back(m.experts[e + 2].lw);
    }
    Tensor h;
    calib_->layer(l, std::move(L), [&](const Tensor& t, const char* name, int) {
      const std::string n = name;
      if (n == "attn_in") h = t;
      if (n == "attn_out") a.o_range = min_max(t);
      if (n != "attn_norm") return;
      if (!o_.smooth) {
        a.x_range = min_max(t);
        return;
      }
      smooth(t, a.q, a.k, a.v, a.g, a.beta);
      for (auto [w, rows, b] : {std::tuple{&a.q, Q, &a.bq}, std::tuple{&a.k, KV, &a.bk}, std::tuple{&a.v, KV, &a.bv}}) {
        b->assign(rows, 0.0);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < H; ++c) (*b)[r] -= (*w)[r * H + c] * a.beta[c];
      }
      a.x_range = min_max(calib_->norm(h, a.g, a.beta));
    });
  }

  void write_attention(int l, const Attention& a) {
    const std::string p = layer(l);
    const int64_t H = c_.hidden_size, hd = c_.head_dim, Q = c_.q_size(), KV = c_.kv_size();
    write_float(p + "input_layernorm.weight", a.g, {H});
    if (o_.smooth) write_float(p + "input_layernorm.bias", a.beta, {H});
    write_float(p + "self_attn.q_norm.weight", load_vector(*ck_, p + "self_attn.q_norm.weight", hd), {hd});
    write_float(p + "self_attn.k_norm.weight", load_vector(*ck_, p + "self_attn.k_norm.weight", hd), {hd});
    write_linear(p + "self_attn.q_proj", QuantType::W8A8, a.q, Q, H, a.x_range, a.bq);
    write_linear(p + "self_attn.k_proj", QuantType::W8A8, a.k, KV, H, a.x_range, a.bk);
    write_linear(p + "self_attn.v_proj", QuantType::W8A8, a.v, KV, H, a.x_range, a.bv);
    write_linear(p + "self_attn.o_proj", QuantType::W8A8, a.o, H, Q, a.o_range);
  }

  // SmoothQuant on the attention input x = norm(h) * g (as w8a8_ref.py's smooth): per channel
  // s = amax^a / wmax^(1-a), norm weight g / s, q/k/v columns * s; then the shift centres each
  // channel's range with the norm bias beta (q/k/v get the float bias that undoes it). g and
  // beta are rounded to the output dtype first and the weights scaled by the exact ratio, so
  // the float model stays exact.
  void smooth(const Tensor& x, Mat& q, Mat& k, Mat& v, std::vector<double>& g, std::vector<double>& beta) {
    const int64_t T = x.size(0), H = x.size(1), Q = c_.q_size(), KV = c_.kv_size();
    std::vector<double> amax(H, 0.0), lo(H, 1e30), hi(H, -1e30), wmax(H, 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < H; ++c) {
        const double val = x.data<float>()[t * H + c];
        amax[c] = std::max(amax[c], std::fabs(val));
        lo[c] = std::min(lo[c], val);
        hi[c] = std::max(hi[c], val);
      }
    for (auto [w, n] : {std::pair{&q, Q}, std::pair{&k, KV}, std::pair{&v, KV}})
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < H; ++c) wmax[c] = std::max(wmax[c], std::fabs((*w)[r * H + c]));
    const double a = o_.smooth_alpha;
    std::vector<double> ratio(H);
    beta.assign(H, 0.0);
    for (int64_t c = 0; c < H; ++c) {
      const double s = std::clamp(std::pow(std::max(amax[c], 1e-5), a) / std::pow(std::max(wmax[c], 1e-5), 1 - a),
                                  1e-2, 1e2);
      const double gn = out_value(g[c] / s);
      ratio[c] = gn != 0.0 ? g[c] / gn : 0.0;
      beta[c] = g[c] != 0.0 ? out_value(-(hi[c] + lo[c]) / 2 * gn / g[c]) : 0.0;
      g[c] = gn;
    }
    scale_columns(q, Q, H, ratio);
    scale_columns(k, KV, H, ratio);
    scale_columns(v, KV, H, ratio);
  }

  static std::pair<double, double> min_max(const Tensor& t) {
    const float* p = t.data<float>();
    const auto [lo, hi] = std::minmax_element(p, p + t.numel());
    return {*lo, *hi};
  }

  // The post-attention norm, router and experts: rotated (norm folded in), written; kept as
  // float weights for the calibration's forward pass when there is one.
  Moe moe_layer(int l) {
    const std::string p = layer(l);
    const int64_t H = c_.hidden_size, I = c_.moe_intermediate_size, E = c_.num_experts;
    Moe m;
    m.g = load_vector(*ck_, p + "post_attention_layernorm.weight", H);
    Mat router = load_matrix(*ck_, p + "mlp.gate.weight", E, H);
    std::vector<double> fold;
    if (r1_) {
      fold = m.g;
      std::fill(m.g.begin(), m.g.end(), 1.0);
      scale_columns(router, E, H, fold);
      r1_->right(router.data(), E);
    }
    for (double& x : router) x = out_value(x);  // the router the model will run
    write_float(p + "post_attention_layernorm.weight", m.g, {H});
    write_float(p + "mlp.gate.weight", router, {E, H});
    if (calib_) m.router.emplace(router, E, H);
    for (int e = 0; e < E; ++e) {
      const std::string q = fmt::format("{}mlp.experts.{}.", p, e);
      Mat gate = load_matrix(*ck_, q + "gate_proj.weight", I, H);
      Mat up = load_matrix(*ck_, q + "up_proj.weight", I, H);
      Mat down = load_matrix(*ck_, q + "down_proj.weight", H, I);
      if (r1_) {
        scale_columns(gate, I, H, fold);
        scale_columns(up, I, H, fold);
        r1_->right(gate.data(), I);
        r1_->right(up.data(), I);
        r1_->left_transpose(down.data(), I);
      }
      if (calib_) {
        m.experts.emplace_back(gate, I, H);
        m.experts.emplace_back(up, I, H);
        m.experts.emplace_back(down, H, I);
      }
      write_linear(q + "gate_proj", QuantType::W8A8Dynamic, gate, I, H);
      write_linear(q + "up_proj", QuantType::W8A8Dynamic, up, I, H);
      write_linear(q + "down_proj", QuantType::W8A8Dynamic, down, H, I);
    }
    return m;
  }

  void head(QuantizeReport& report) {
    const int64_t H = c_.hidden_size, V = c_.vocab_size;
    std::vector<double> g = load_vector(*ck_, "model.norm.weight", H), fold;
    if (r1_) {
      fold = g;
      std::fill(g.begin(), g.end(), 1.0);
    }
    write_float("model.norm.weight", g, {H});
    if (calib_) {
      const std::vector<float> gf = out_values(g);
      hidden_last_ = calib_->last_hidden(std::vector<double>(gf.begin(), gf.end()));
      report.last_logits.assign(hidden_last_.size() / H, std::vector<float>(V));
    }
    const size_t last = report.last_logits.size();
    const std::string src = tied_source_ ? "model.embed_tokens.weight" : "lm_head.weight";
    stream_rows(src, "lm_head.weight", fold, [&](int64_t r0, const std::vector<float>& f) {
      const int64_t n = static_cast<int64_t>(f.size()) / H;
      for (size_t i = 0; i < last; ++i)
        for (int64_t r = 0; r < n; ++r) {
          float acc = 0;
          for (int64_t c = 0; c < H; ++c) acc += hidden_last_[i * H + c] * f[r * H + c];
          report.last_logits[i][r0 + r] = acc;
        }
    });
  }

  void write_metadata() {
    if (o_.quantize) {
      nlohmann::ordered_json d;
      d["model_quant_type"] = "W8A8";
      d["version"] = "1.0.0";
      for (auto& [name, type] : desc_) d[name] = type;
      std::ofstream(o_.out / QuantDescription::kFileName) << d.dump(1) << "\n";
    }
    // config.json as is, except that lm_head is now its own tensor (the final norm is folded into it).
    std::ifstream in(o_.src / "config.json");
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(in);
    config["tie_word_embeddings"] = false;
    std::ofstream(o_.out / "config.json") << config.dump(2) << "\n";
    for (auto& e : fs::directory_iterator(o_.src)) {
      const std::string n = e.path().filename().string();
      const bool copy = n == "generation_config.json" || n.rfind("tokenizer", 0) == 0 || n == "vocab.json" ||
                        n == "merges.txt" || n == "special_tokens_map.json" || n == "added_tokens.json" ||
                        n.rfind("chat_template", 0) == 0;
      if (copy && e.is_regular_file()) {
        fs::copy_file(e.path(), o_.out / n, fs::copy_options::overwrite_existing);
        fs::permissions(o_.out / n, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
      }
    }
  }

  const QuantizeOptions& o_;
  ModelConfig c_;
  std::unique_ptr<Ops> ops_;
  std::shared_ptr<Checkpoint> ck_;
  bool calibrate_ = false, tied_source_ = false;
  DType fdt_ = DType::BF16;
  std::optional<Rotation> r1_, r2_;
  std::optional<SafetensorsWriter> writer_;
  std::optional<CalibrationForward> calib_;
  std::map<std::string, std::string> desc_;
  std::vector<float> hidden_last_;
};

}  // namespace

QuantizeReport quantize_model(const QuantizeOptions& options) { return Quantizer(options).run(); }

std::vector<std::vector<int32_t>> read_token_id_file(const fs::path& path) {
  std::ifstream f(path);
  ROTOR_CHECK(f, "cannot read {}", path.string());
  std::vector<std::vector<int32_t>> seqs;
  std::string line;
  int line_no = 0;
  while (std::getline(f, line)) {
    ++line_no;
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream in(line);
    std::vector<int32_t> ids;
    std::string tok;
    while (in >> tok) {
      size_t used = 0;
      long v = -1;
      try {
        v = std::stol(tok, &used);
      } catch (const std::exception&) {
      }
      ROTOR_CHECK(used == tok.size() && v >= 0 && v <= INT32_MAX, "{}:{}: '{}' is not a token id", path.string(),
                  line_no, tok);
      ids.push_back(static_cast<int32_t>(v));
    }
    if (!ids.empty()) seqs.push_back(std::move(ids));
  }
  ROTOR_CHECK(!seqs.empty(), "{}: no token ids", path.string());
  return seqs;
}

}  // namespace rotor
