// model/quantize/source_tensors.cpp — source tensors to doubles (bf16, f16, f32), page release.
#include "model/quantize/source_tensors.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "core/bf16.h"

namespace rotor {

void release_pages(const Tensor& t) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(t.data()) + page - 1) / page * page;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(t.data()) + t.nbytes()) / page * page;
  if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

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

void scale_columns(Mat& w, int64_t n, int64_t k, const std::vector<double>& s) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) w[r * k + c] *= s[c];
}

Mat load_rows(const Tensor& t, int64_t n, int64_t k) {
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

}  // namespace rotor
