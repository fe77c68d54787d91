// model/quantize/source_tensors.h — the quantizer's reads of the source checkpoint: float
// tensors as row-major double matrices, their mapped pages dropped once read (so the resident
// set stays at about one layer, not the whole checkpoint), and column scaling.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/safetensors.h"

namespace rotor {

using Mat = std::vector<double>;  // row-major

// Drops the mapped pages of a source tensor once it has been read (clean file pages: touching
// them again reads the file).
void release_pages(const Tensor& t);
// A float tensor of shape [n, k] (or [k] when n is 0) as doubles; its pages released.
Mat load_matrix(const Checkpoint& ck, const std::string& name, int64_t n, int64_t k);
std::vector<double> load_vector(const Checkpoint& ck, const std::string& name, int64_t n);
// Rows [n, k] of a float tensor view as doubles.
Mat load_rows(const Tensor& t, int64_t n, int64_t k);
// Columns c of w [n, k] scaled by s[c].
void scale_columns(Mat& w, int64_t n, int64_t k, const std::vector<double>& s);

}  // namespace rotor
