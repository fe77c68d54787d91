// model/quantize/calibration.h — the float forward pass over the calibration sequences, run by
// the architecture's own Model (make_model) one layer at a time so the quantizer never holds
// more than one layer's weights: it hands each layer's transformed float weights in and reads
// the activations it needs (the attention's input, o_proj's input, ...) through the model's
// activation callback. All prefill on the CPU ops, consecutive KV blocks, one KV cache layer
// reused by every layer; the residual stream persists in the model between layers.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/model.h"

namespace rotor {

// An f32 linear layer made from a double matrix (and an optional bias), for the ops.
struct FloatLinear {
  OwnedTensor weight, bias;
  LinearWeight lw;
  FloatLinear(const std::vector<double>& w, int64_t n, int64_t k, const std::vector<double>& b = {});
};

// An f32 vector for the ops.
OwnedTensor float_vector(const std::vector<double>& v);

class CalibrationForward {
 public:
  CalibrationForward(Ops& ops, const ModelConfig& config, std::vector<std::vector<int32_t>> sequences);
  ~CalibrationForward();

  int64_t tokens() const { return T_; }
  const std::vector<int32_t>& ids() const { return ids_; }  // [T] every token, sequences concatenated
  // The embedding row [H] f32 of a calibration token id, to be written before embed();
  // nullptr for an id no sequence holds.
  float* embedding_row(int32_t id);
  // Starts the residual stream from the embedding rows.
  void embed();
  // Layer l over every token with these float weights; `cb` sees its named intermediates.
  void layer(int l, LayerWeights weights, const ActivationCallback& cb);
  // The final-normed rows [S, H] f32 (final norm weight [H]) of the last token of each sequence.
  std::vector<float> last_hidden(const std::vector<double>& final_norm);
  // x [T, H] = rms_norm(h) * w (+ b) of a residual stream h [T, H] (the attn_in intermediate),
  // into a scratch; b empty = none.
  const Tensor& norm(const Tensor& h, const std::vector<double>& w, const std::vector<double>& b);

 private:
  Ops& ops_;
  ModelConfig c_;
  int64_t T_ = 0;
  std::vector<int32_t> ids_;
  std::vector<int32_t> distinct_;   // the distinct ids, ascending: rows of the embedding table
  OwnedTensor table_, local_ids_, x_, k_cache_, v_cache_;
  OwnedTensor positions_, slots_, query_start_, seq_lens_, block_tables_;
  AttentionBatch batch_;
  std::unique_ptr<Communicator> comm_;
  ModelWeights weights_;
  std::unique_ptr<Model> model_;
};

}  // namespace rotor
