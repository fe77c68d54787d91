// engine/runner/staged_buffer.h — StagedBuffer<T>: one field of a step's device metadata (as
// vLLM's CpuGpuBuffer): page-locked host staging for each step in flight (kStagingSlots, so
// step N+1 is staged while step N's copies may still be reading its slot), the device copy the
// ops read, the value that padding rows take, and the asynchronous upload of the first n values.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <type_traits>

#include "core/buffer.h"
#include "kernels/ops.h"

namespace rotor {

constexpr int kStagingSlots = 2;

template <typename T>
class StagedBuffer {
  static_assert(std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> || std::is_same_v<T, float>);

 public:
  StagedBuffer() = default;
  StagedBuffer(Ops& ops, int64_t capacity, T pad = T{}) : ops_(&ops), pad_(pad) { allocate(capacity); }

  int64_t capacity() const { return capacity_; }
  // The staging of one slot (free: its last step was waited for).
  T* host(int slot) const { return static_cast<T*>(host_[slot].data()); }
  // Copies v into the slot's staging at `at`.
  void put(int slot, std::span<const T> v, int64_t at = 0) const { std::copy(v.begin(), v.end(), host(slot) + at); }
  // Elements [from, to) of the slot's staging take the padding value.
  void pad(int slot, int64_t from, int64_t to) const { std::fill(host(slot) + from, host(slot) + to, pad_); }
  // Queues the copy of the slot's first n values to the device after the work already queued.
  void upload(int slot, int64_t n) const {
    if (n > 0) ops_->copy_async(device_.data(), host(slot), static_cast<size_t>(n) * sizeof(T));
  }
  // The first n values on the device.
  Tensor device(int64_t n) const { return Tensor(device_.data(), dtype(), {n}, device_.device()); }
  // Room for n values; whether it grew. Growing waits for the queued work first (an earlier
  // step's copies and ops may still use the old memory), so fields that CUDA graphs read never
  // grow.
  bool reserve(int64_t n) {
    if (n <= capacity_) return false;
    ops_->synchronize();
    allocate(std::max(n, 2 * capacity_));
    return true;
  }

 private:
  static DType dtype() {
    if constexpr (std::is_same_v<T, int32_t>) return DType::I32;
    if constexpr (std::is_same_v<T, int64_t>) return DType::I64;
    return DType::F32;
  }
  void allocate(int64_t capacity) {
    capacity_ = std::max<int64_t>(capacity, 1);
    const size_t bytes = static_cast<size_t>(capacity_) * sizeof(T);
    for (Buffer& h : host_) h = Buffer(ops_->host_allocator(), bytes);
    device_ = Buffer(ops_->allocator(), bytes);
  }

  Ops* ops_ = nullptr;
  T pad_{};
  int64_t capacity_ = 0;
  std::array<Buffer, kStagingSlots> host_;
  Buffer device_;
};

}  // namespace rotor
