// model/quantize/quantize_model.h — `rotor quantize`: a bf16 Hugging Face Qwen3-MoE checkpoint
// to the W8A8 format of W8A8.md (or, with quantize = false, to the transformed float model in
// f32, the check that rotation and smoothing are exact). Steps: fold norms into the linears
// that read them, rotate (QuaRot R1 on the residual stream, R2 on each v/o head), smooth and
// shift the attention input (norm weight and bias, q/k/v float bias), calibrate activation
// ranges with the float model on calibration sequences (the architecture's own Model, one
// layer at a time, read through its activation callback), quantise per output channel.
// Streams: one layer's weights at a time (as f32 for the calibration's forward pass),
// embeddings in row blocks, every tensor written to its place in the output once it is made.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

namespace rotor {

struct QuantizeOptions {
  std::filesystem::path src, out;
  bool rotate = false;
  bool smooth = false;
  bool quantize = true;                               // false: write the transformed float model (f32)
  std::vector<std::vector<int32_t>> calibration;      // token ids per sequence
  uint64_t seed = 7;                                  // of the rotation's random signs
  double smooth_alpha = 0.5;
  size_t shard_bytes = size_t{5} << 30;
};

struct QuantizeReport {
  int64_t tensors = 0;
  int64_t calibration_tokens = 0;
  // Logits after the last token of each calibration sequence, from the float forward pass the
  // calibration ran (the transformed model, output dtype); empty without calibration.
  std::vector<std::vector<float>> last_logits;
};

QuantizeReport quantize_model(const QuantizeOptions& options);

// Calibration sequences from a file of token ids: one sequence per line, ids separated by
// commas or whitespace.
std::vector<std::vector<int32_t>> read_token_id_file(const std::filesystem::path& path);

}  // namespace rotor
