// comm/nccl_comm.cpp — a Communicator over NCCL. The communicator is non-blocking (NCCL's
// `blocking = 0`): every call returns at once and is then polled, so a rank waiting for
// others can notice that its group was aborted or that the timeout passed, abort NCCL and
// throw instead of hanging.
#include "comm/nccl_comm.h"

#include <nccl.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/check.h"
#include "core/log.h"
#include "kernels/cuda/cuda_check.h"

namespace rotor {
namespace {

static_assert(sizeof(NcclId) == sizeof(ncclUniqueId));

ncclDataType_t nccl_type(DType d) {
  switch (d) {
    case DType::F32: return ncclFloat32;
    case DType::F16: return ncclFloat16;
    case DType::BF16: return ncclBfloat16;
    case DType::I32: return ncclInt32;
    case DType::I64: return ncclInt64;
    case DType::I8: return ncclInt8;
    case DType::U8: return ncclUint8;
    default: ROTOR_FAIL("NCCL all_reduce_sum: no NCCL type for {}", dtype_name(d));
  }
}

class NcclComm final : public Communicator {
 public:
  NcclComm(const NcclId& id, int rank, int world, int device, cudaStream_t stream, std::shared_ptr<LocalGroup> group)
      : rank_(rank), world_(world), device_(device), stream_(stream), group_(std::move(group)) {
    ROTOR_CUDA_CHECK(cudaSetDevice(device));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclUniqueId uid;
    std::memcpy(&uid, id.bytes, sizeof(uid));
    run("initialisation", [&] { return ncclCommInitRankConfig(&comm_, world, uid, rank, &config); });
    if (group_) hook_ = group_->add_abort_hook([this] {
      std::lock_guard lock(mu_);
      abort_locked();
    });
    ROTOR_LOG_INFO("NCCL {}: rank {} of {} on GPU {}", nccl_version(), rank, world, device);
  }

  ~NcclComm() override {
    if (group_) group_->remove_abort_hook(hook_);
    std::lock_guard lock(mu_);
    if (comm_ == nullptr) return;
    if (group_ && group_->aborted()) {
      abort_locked();
      return;
    }
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);
    ncclCommDestroy(comm_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }

  void all_reduce_sum(const Tensor& t) override {
    check_tensor(t, "all_reduce_sum");
    run("all_reduce_sum", [&] {
      return ncclAllReduce(t.data(), t.data(), t.numel(), nccl_type(t.dtype()), ncclSum, comm_, stream_);
    });
  }

  void all_gather(const Tensor& in, const Tensor& out) override {
    check_tensor(in, "all_gather");
    check_tensor(out, "all_gather");
    ROTOR_CHECK(out.nbytes() == in.nbytes() * world_, "all_gather: {} from each of {} ranks into {}", in.str(),
                world_, out.str());
    run("all_gather", [&] { return ncclAllGather(in.data(), out.data(), in.nbytes(), ncclUint8, comm_, stream_); });
  }

  void broadcast(const Tensor& t, int root) override {
    check_tensor(t, "broadcast");
    ROTOR_CHECK(root >= 0 && root < world_, "broadcast: root {} of {} ranks", root, world_);
    run("broadcast", [&] { return ncclBroadcast(t.data(), t.data(), t.nbytes(), ncclUint8, root, comm_, stream_); });
  }

  void check() override {
    std::string error;
    {
      std::lock_guard lock(mu_);
      if (comm_ == nullptr) ROTOR_FAIL("NCCL on rank {}: the communicator was aborted ({})", rank_, abort_reason());
      ncclResult_t r = ncclSuccess;
      ncclCommGetAsyncError(comm_, &r);
      if (r != ncclSuccess && r != ncclInProgress) error = describe(r, "asynchronous error");
      if (!error.empty()) abort_locked();
    }
    if (!error.empty()) fail_all(error);
  }

 private:
  void check_tensor(const Tensor& t, const char* what) const {
    ROTOR_CHECK(t.device() == (Device{DeviceType::CUDA, device_}) && t.is_contiguous(),
                "NCCL {}: {} must be contiguous on cuda:{}", what, t.str(), device_);
  }

  std::string abort_reason() const { return group_ && group_->aborted() ? group_->abort_reason() : "an NCCL error"; }

  std::string describe(ncclResult_t r, const char* what) const {
    const char* last = comm_ ? ncclGetLastError(comm_) : nullptr;
    return fmt::format("NCCL {} on rank {} of {} (GPU {}): {}{}{}", what, rank_, world_, device_,
                       ncclGetErrorString(r), last && *last ? ": " : "", last ? last : "");
  }

  // Issues `call` and polls NCCL until it has taken the call, the group is aborted or the
  // timeout passes; then NCCL is aborted and every rank of the group is told.
  template <typename Call>
  void run(const char* what, Call&& call) {
    std::string error;
    {
      std::lock_guard lock(mu_);
      if (std::string_view(what) != "initialisation" && comm_ == nullptr)
        ROTOR_FAIL("NCCL {} on rank {}: the communicator was aborted ({})", what, rank_, abort_reason());
      const auto timeout = group_ ? group_->timeout() : std::chrono::milliseconds(600'000);
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      ncclResult_t r = call();
      while (r == ncclInProgress) {
        if (group_ && group_->aborted()) {
          error = fmt::format("NCCL {} on rank {}: the group was aborted: {}", what, rank_, group_->abort_reason());
          break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
          error = fmt::format("NCCL {} on rank {} of {}: no progress in {} s (ROTOR_COMM_TIMEOUT_S)", what, rank_,
                              world_, static_cast<double>(timeout.count()) / 1000.0);
          break;
        }
        std::this_thread::yield();
        if (comm_ == nullptr || ncclCommGetAsyncError(comm_, &r) != ncclSuccess) break;
      }
      if (error.empty() && r != ncclSuccess) error = describe(r, what);
      if (!error.empty()) abort_locked();
    }
    if (!error.empty()) fail_all(error);
  }

  // Tells the other ranks (their waits end) and throws.
  [[noreturn]] void fail_all(const std::string& error) {
    if (group_) group_->abort(error);
    ROTOR_FAIL("{}", error);
  }

  void abort_locked() {
    if (comm_ == nullptr) return;
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }

  const int rank_, world_, device_;
  cudaStream_t stream_;
  std::shared_ptr<LocalGroup> group_;
  int hook_ = -1;
  std::mutex mu_;  // guards comm_ (the abort hook runs on another thread)
  ncclComm_t comm_ = nullptr;
};

}  // namespace

NcclId nccl_unique_id() {
  ncclUniqueId uid;
  const ncclResult_t r = ncclGetUniqueId(&uid);
  ROTOR_CHECK(r == ncclSuccess, "ncclGetUniqueId: {}", ncclGetErrorString(r));
  NcclId id;
  std::memcpy(id.bytes, &uid, sizeof(uid));
  return id;
}

std::string nccl_version() {
  int v = 0;
  ncclGetVersion(&v);
  return fmt::format("{}.{}.{}", v / 10000, v / 100 % 100, v % 100);
}

std::unique_ptr<Communicator> make_nccl_comm(const NcclId& id, int rank, int world, int device, cudaStream_t stream,
                                             std::shared_ptr<LocalGroup> group) {
  return std::make_unique<NcclComm>(id, rank, world, device, stream, std::move(group));
}

}  // namespace rotor
