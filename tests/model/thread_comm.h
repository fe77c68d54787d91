// tests/model/thread_comm.h — an in-test communicator for N ranks on N threads of one process
// over host memory (the CPU backend's tensors): a barrier, each rank publishing its tensor and
// every rank summing (or gathering) all of them in rank order, so all ranks get bitwise the
// same result.
#pragma once
#include <barrier>
#include <cstring>
#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "core/check.h"

namespace rotor::test {

class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), barrier_(n), published_(n) {}
  int size() const { return n_; }

  void all_reduce_sum(int rank, const Tensor& t) {
    ROTOR_CHECK(t.dtype() == DType::F32 && t.device().is_cpu(), "thread comm: all_reduce of {}", t.str());
    const int64_t rows = t.ndim() == 1 ? 1 : t.size(0), cols = t.ndim() == 1 ? t.numel() : t.size(1);
    published_[rank] = t;
    barrier_.arrive_and_wait();
    std::vector<float> sum(rows * cols, 0.0f);
    for (int r = 0; r < n_; ++r)
      for (int64_t i = 0; i < rows; ++i) {
        const float* src = static_cast<const float*>(t.ndim() == 1 ? published_[r].data() : published_[r].row_ptr(i));
        for (int64_t j = 0; j < cols; ++j) sum[i * cols + j] += src[j];
      }
    barrier_.arrive_and_wait();  // every rank has read every tensor
    for (int64_t i = 0; i < rows; ++i)
      std::memcpy(t.ndim() == 1 ? t.data() : t.row_ptr(i), &sum[i * cols], cols * sizeof(float));
  }

  void all_gather(int rank, const Tensor& in, const Tensor& out) {
    ROTOR_CHECK(in.is_contiguous() && out.is_contiguous() && out.nbytes() == in.nbytes() * n_,
                "thread comm: all_gather {} into {}", in.str(), out.str());
    published_[rank] = in;
    barrier_.arrive_and_wait();
    for (int r = 0; r < n_; ++r)
      std::memcpy(static_cast<char*>(out.data()) + r * in.nbytes(), published_[r].data(), in.nbytes());
    barrier_.arrive_and_wait();
  }

 private:
  int n_;
  std::barrier<> barrier_;
  std::vector<Tensor> published_;
};

class ThreadComm final : public Communicator {
 public:
  ThreadComm(ThreadGroup& group, int rank) : group_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return group_.size(); }
  void all_reduce_sum(const Tensor& t) override { group_.all_reduce_sum(rank_, t); }
  void all_gather(const Tensor& in, const Tensor& out) override { group_.all_gather(rank_, in, out); }

 private:
  ThreadGroup& group_;
  int rank_;
};

}  // namespace rotor::test
