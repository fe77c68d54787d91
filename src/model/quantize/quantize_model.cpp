// model/quantize/quantize_model.cpp — the quantizer's driver: plans every output tensor, then
// walks the model once (embeddings, each layer's attention, router and experts one by one,
// final norm and lm_head) transforming, calibrating, quantising and writing as it goes.
#include "model/quantize/quantize_model.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

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
#include "model/safetensors.h"
#include "model/safetensors_writer.h"

namespace rotor {
namespace fs = std::filesystem;

namespace {

using Mat = std::vector<double>;  // row-major

// Drops the mapped pages of a source tensor once it has been read (they are clean file pages:
// touching them again reads the file), so the resident set stays at about one layer, not the
// whole checkpoint.
void release_pages(const Tensor& t) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(t.data()) + page - 1) / page * page;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(t.data()) + t.nbytes()) / page * page;
  if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

// A float tensor of shape [n, k] (or [k] when n is 0) as doubles.
Mat load_matrix(const Checkpoint& ck, const std::string& name, int64_t n, int64_t k) {
  const Tensor t = n == 0 ? ck.get(name, {k}).view({1, k}) : ck.get(name, {n, k});
  n = std::max<int64_t>(n, 1);
  Mat m(n * k);
  std::vector<float> row;
#pragma omp parallel for schedule(static) firstprivate(row)
  for (int64_t r = 0; r < n; ++r) {
    row.resize(k);
    for (int64_t c = 0; c < k; ++c) {
      const void* p = t.row_ptr(r);
      row[c] = t.dtype() == DType::F32 ? static_cast<const float*>(p)[c]
               : t.dtype() == DType::BF16 ? bf16_to_f32(static_cast<const uint16_t*>(p)[c])
                                          : f16_to_f32(static_cast<const uint16_t*>(p)[c]);
    }
    for (int64_t c = 0; c < k; ++c) m[r * k + c] = row[c];
  }
  release_pages(t);
  return m;
}

std::vector<double> load_vector(const Checkpoint& ck, const std::string& name, int64_t n) {
  return load_matrix(ck, name, 0, n);
}

// Columns c of w [n, k] scaled by s[c].
void scale_columns(Mat& w, int64_t n, int64_t k, const std::vector<double>& s) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) w[r * k + c] *= s[c];
}

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
      attention_layer(l);
      moe_layer(l);
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

  void plan() {
    const int64_t H = c_.hidden_size, V = c_.vocab_size, hd = c_.head_dim, I = c_.moe_intermediate_size;
    plan_float("model.embed_tokens.weight", {V, H});
    for (int l = 0; l < c_.num_layers; ++l) {
      const std::string p = layer(l);
      plan_float(p + "input_layernorm.weight", {H});
      if (o_.smooth) plan_float(p + "input_layernorm.bias", {H});
      plan_float(p + "post_attention_layernorm.weight", {H});
      plan_float(p + "self_attn.q_norm.weight", {hd});
      plan_float(p + "self_attn.k_norm.weight", {hd});
      plan_linear(p + "self_attn.q_proj", QuantType::W8A8, c_.q_size(), H, o_.smooth);
      plan_linear(p + "self_attn.k_proj", QuantType::W8A8, c_.kv_size(), H, o_.smooth);
      plan_linear(p + "self_attn.v_proj", QuantType::W8A8, c_.kv_size(), H, o_.smooth);
      plan_linear(p + "self_attn.o_proj", QuantType::W8A8, H, c_.q_size(), false);
      plan_float(p + "mlp.gate.weight", {c_.num_experts, H});
      for (int e = 0; e < c_.num_experts; ++e) {
        const std::string q = fmt::format("{}mlp.experts.{}.", p, e);
        plan_linear(q + "gate_proj", QuantType::W8A8Dynamic, I, H, false);
        plan_linear(q + "up_proj", QuantType::W8A8Dynamic, I, H, false);
        plan_linear(q + "down_proj", QuantType::W8A8Dynamic, H, I, false);
      }
    }
    plan_float("model.norm.weight", {H});
    plan_float("lm_head.weight", {V, H});
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
  static Mat load_rows(const Tensor& t, int64_t n, int64_t k) {
    Mat m(n * k);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) {
        const void* p = t.row_ptr(r);
        m[r * k + c] = t.dtype() == DType::F32    ? static_cast<const float*>(p)[c]
                       : t.dtype() == DType::BF16 ? bf16_to_f32(static_cast<const uint16_t*>(p)[c])
                                                  : f16_to_f32(static_cast<const uint16_t*>(p)[c]);
      }
    return m;
  }

  void embeddings() {
    const int64_t H = c_.hidden_size;
    std::multimap<int32_t, int64_t> where;  // token id -> calibration rows
    if (calib_)
      for (int64_t t = 0; t < calib_->tokens(); ++t) where.emplace(calib_->ids()[t], t);
    stream_rows("model.embed_tokens.weight", "model.embed_tokens.weight", {}, [&](int64_t r0, const std::vector<float>& f) {
      if (!calib_) return;
      const int64_t n = static_cast<int64_t>(f.size()) / H;
      for (auto it = where.lower_bound(static_cast<int32_t>(r0)); it != where.end() && it->first < r0 + n; ++it)
        std::copy_n(&f[(it->first - r0) * H], H, calib_->residual().data<float>() + it->second * H);
    });
  }

  void attention_layer(int l) {
    const std::string p = layer(l);
    const int64_t H = c_.hidden_size, hd = c_.head_dim, Q = c_.q_size(), KV = c_.kv_size();
    Mat q = load_matrix(*ck_, p + "self_attn.q_proj.weight", Q, H);
    Mat k = load_matrix(*ck_, p + "self_attn.k_proj.weight", KV, H);
    Mat v = load_matrix(*ck_, p + "self_attn.v_proj.weight", KV, H);
    Mat o = load_matrix(*ck_, p + "self_attn.o_proj.weight", H, Q);
    std::vector<double> g = load_vector(*ck_, p + "input_layernorm.weight", H);
    if (r1_) {
      for (Mat* w : {&q, &k, &v}) scale_columns(*w, w == &q ? Q : KV, H, g);
      std::fill(g.begin(), g.end(), 1.0);
      r1_->right(q.data(), Q);
      r1_->right(k.data(), KV);
      r1_->right(v.data(), KV);
      r1_->left_transpose(o.data(), Q);
      r2_->right_per_head(o.data(), H, c_.num_heads);
      r2_->left_transpose_per_head(v.data(), c_.num_kv_heads, H);
    }
    for (double& x : g) x = out_value(x);
    std::vector<double> beta;  // input norm bias (smoothing shift)
    std::vector<double> bq, bk, bv;
    std::pair<double, double> x_range, o_range;
    const Tensor q_norm = ck_->get(p + "self_attn.q_norm.weight", {hd});
    const Tensor k_norm = ck_->get(p + "self_attn.k_norm.weight", {hd});
    if (calib_) {
      const std::vector<float> gf(g.begin(), g.end());
      const Tensor& x = calib_->norm(gf, {});
      if (o_.smooth) {
        smooth(x, q, k, v, g, beta);
        for (auto [w, n, b] : {std::tuple{&q, Q, &bq}, std::tuple{&k, KV, &bk}, std::tuple{&v, KV, &bv}}) {
          b->assign(n, 0.0);
          for (int64_t r = 0; r < n; ++r)
            for (int64_t c = 0; c < H; ++c) (*b)[r] -= (*w)[r * H + c] * beta[c];
        }
      }
      const std::vector<float> gs(g.begin(), g.end()), bs(beta.begin(), beta.end());
      const Tensor& xs = calib_->norm(gs, bs);
      x_range = min_max(xs);
      const FloatLinear fq(q, Q, H, bq), fk(k, KV, H, bk), fv(v, KV, H, bv), fo(o, H, Q);
      const Tensor& attn = calib_->attention(xs, fq.lw, fk.lw, fv.lw, q_norm, k_norm);
      o_range = min_max(attn);
      calib_->add_to_residual(calib_->linear(attn, fo.lw));
    }
    write_float(p + "input_layernorm.weight", g, {H});
    if (o_.smooth) write_float(p + "input_layernorm.bias", beta, {H});
    write_float(p + "self_attn.q_norm.weight", load_vector(*ck_, p + "self_attn.q_norm.weight", hd), {hd});
    write_float(p + "self_attn.k_norm.weight", load_vector(*ck_, p + "self_attn.k_norm.weight", hd), {hd});
    write_linear(p + "self_attn.q_proj", QuantType::W8A8, q, Q, H, x_range, bq);
    write_linear(p + "self_attn.k_proj", QuantType::W8A8, k, KV, H, x_range, bk);
    write_linear(p + "self_attn.v_proj", QuantType::W8A8, v, KV, H, x_range, bv);
    write_linear(p + "self_attn.o_proj", QuantType::W8A8, o, H, Q, o_range);
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

  void moe_layer(int l) {
    const std::string p = layer(l);
    const int64_t H = c_.hidden_size, I = c_.moe_intermediate_size, E = c_.num_experts;
    std::vector<double> g = load_vector(*ck_, p + "post_attention_layernorm.weight", H);
    Mat router = load_matrix(*ck_, p + "mlp.gate.weight", E, H);
    std::vector<double> fold;
    if (r1_) {
      fold = g;
      std::fill(g.begin(), g.end(), 1.0);
      scale_columns(router, E, H, fold);
      r1_->right(router.data(), E);
    }
    for (double& x : router) x = out_value(x);  // the router the model will run
    write_float(p + "post_attention_layernorm.weight", g, {H});
    write_float(p + "mlp.gate.weight", router, {E, H});
    std::optional<Tensor> x;
    if (calib_) {
      const std::vector<float> gf(g.begin(), g.end());
      x = calib_->norm(gf, {});
      const FloatLinear fr(router, E, H);
      calib_->route(calib_->linear(*x, fr.lw));
    }
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
      if (calib_ && !calib_->expert_tokens(e).empty()) {
        const FloatLinear fg(gate, I, H), fu(up, I, H), fd(down, H, I);
        calib_->expert(*x, e, fg.lw, fu.lw, fd.lw);
      }
      write_linear(q + "gate_proj", QuantType::W8A8Dynamic, gate, I, H);
      write_linear(q + "up_proj", QuantType::W8A8Dynamic, up, I, H);
      write_linear(q + "down_proj", QuantType::W8A8Dynamic, down, H, I);
    }
    if (calib_) calib_->finish_moe();
  }

  void head(QuantizeReport& report) {
    const int64_t H = c_.hidden_size, V = c_.vocab_size;
    std::vector<double> g = load_vector(*ck_, "model.norm.weight", H), fold;
    if (r1_) {
      fold = g;
      std::fill(g.begin(), g.end(), 1.0);
    }
    write_float("model.norm.weight", g, {H});
    std::vector<int64_t> last;
    if (calib_) {
      last = calib_->last_rows();
      const std::vector<float> gf = out_values(g);
      const Tensor& x = calib_->norm(gf, {});
      hidden_last_.resize(last.size() * H);
      for (size_t i = 0; i < last.size(); ++i) std::copy_n(x.data<float>() + last[i] * H, H, &hidden_last_[i * H]);
      report.last_logits.assign(last.size(), std::vector<float>(V));
    }
    const std::string src = tied_source_ ? "model.embed_tokens.weight" : "lm_head.weight";
    stream_rows(src, "lm_head.weight", fold, [&](int64_t r0, const std::vector<float>& f) {
      const int64_t n = static_cast<int64_t>(f.size()) / H;
      for (size_t i = 0; i < last.size(); ++i)
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
