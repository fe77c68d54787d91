// apps/quantize.cpp — `rotor quantize`: a bf16 checkpoint to W8A8 (QuaRot rotation, smoothing,
// calibration; model/quantize/quantize_model.h), or to the transformed float model with
// --no-quantize (the exactness check of rotation and smoothing).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "apps/commands.h"
#include "core/check.h"
#include "core/log.h"
#include "model/quantize/quantize_model.h"
#include "tokenizer/tokenizer.h"

namespace rotor::app {
namespace {

struct QuantizeArgs {
  QuantizeOptions options;
  std::string calib_ids;
  std::string calib_text;
  int calib_seq_len = 512;
  bool no_quantize = false;
  double shard_gb = 5.0;
};

// The calibration text tokenized with the source checkpoint's tokenizer (else the embedded
// Qwen3 one): one document per blank-line-separated block, each cut into sequences of at
// most seq_len tokens.
std::vector<std::vector<int32_t>> calibration_from_text(const std::filesystem::path& file,
                                                        const std::filesystem::path& src, int seq_len) {
  std::ifstream f(file, std::ios::binary);
  ROTOR_CHECK(f.good(), "--calib: cannot read {}", file.string());
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  const auto tok = std::filesystem::exists(src / "tokenizer.json") ? Tokenizer::from_file(src / "tokenizer.json")
                                                                   : Tokenizer::embedded_qwen3();
  std::vector<std::vector<int32_t>> seqs;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find("\n\n", begin);
    if (end == std::string::npos) end = text.size();
    const std::vector<int32_t> ids = tok->encode(std::string_view(text).substr(begin, end - begin));
    for (size_t i = 0; i < ids.size(); i += static_cast<size_t>(seq_len))
      seqs.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(i),
                        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + seq_len)));
    begin = end + 2;
  }
  ROTOR_CHECK(!seqs.empty(), "--calib: {} holds no text", file.string());
  return seqs;
}

void run(QuantizeArgs& a) {
  QuantizeOptions& o = a.options;
  o.quantize = !a.no_quantize;
  ROTOR_CHECK(a.shard_gb > 0, "--shard-size must be positive");
  o.shard_bytes = static_cast<size_t>(a.shard_gb * double(size_t{1} << 30));
  ROTOR_CHECK(std::filesystem::absolute(o.src) != std::filesystem::absolute(o.out), "--out must differ from --src");
  ROTOR_CHECK(a.calib_ids.empty() || a.calib_text.empty(), "give --calib or --calib-ids, not both");
  ROTOR_CHECK(a.calib_seq_len > 0, "--calib-seq-len must be positive");
  if (!a.calib_ids.empty()) o.calibration = read_token_id_file(a.calib_ids);
  if (!a.calib_text.empty()) o.calibration = calibration_from_text(a.calib_text, o.src, a.calib_seq_len);
  const auto start = std::chrono::steady_clock::now();
  const QuantizeReport r = quantize_model(o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ROTOR_LOG_INFO("quantize: {} tensors written to {} in {:.1f} s ({} calibration tokens)", r.tensors, o.out.string(), s,
                 r.calibration_tokens);
}

}  // namespace

void add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* c = app.add_subcommand("quantize", "Make a W8A8 (QuaRot) checkpoint from a bf16 one");
  c->add_option("--src", a->options.src, "bf16 Hugging Face checkpoint directory")->required();
  c->add_option("--out", a->options.out, "Output directory")->required();
  c->add_flag("--rotate", a->options.rotate, "QuaRot: fold norms, random-sign Hadamard R1 and per-head R2");
  c->add_flag("--smooth", a->options.smooth, "Smooth and shift the attention input (norm weight and bias)");
  c->add_flag("--no-quantize", a->no_quantize, "Write the transformed float model (f32) instead of W8A8");
  c->add_option("--calib", a->calib_text, "Calibration text: documents separated by blank lines, tokenized with the source's tokenizer");
  c->add_option("--calib-seq-len", a->calib_seq_len, "Tokens per calibration sequence cut from --calib")
      ->capture_default_str();
  c->add_option("--calib-ids", a->calib_ids, "Calibration token ids: one sequence per line");
  c->add_option("--seed", a->options.seed, "Seed of the rotation's random signs")->capture_default_str();
  c->add_option("--smooth-alpha", a->options.smooth_alpha, "SmoothQuant migration strength")->capture_default_str();
  c->add_option("--shard-size", a->shard_gb, "Largest output file in GiB")->capture_default_str();
  c->callback([a] { run(*a); });
}

}  // namespace rotor::app
