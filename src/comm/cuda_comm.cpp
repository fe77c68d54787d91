// comm/cuda_comm.cpp — CudaComm: set-up of the peer buffers of a group of GPU ranks in one
// process (allocated by each rank on its GPU, shared through the LocalGroup), the choice
// between the peer kernels and NCCL per call, pieces for messages larger than the staging
// buffer, and the reports of device-side waits that gave up; and eager loading of the
// process's kernels, which ranks sharing a GPU need.
#include "comm/cuda_comm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "comm/nccl_comm.h"
#include "comm/peer_all_reduce.cuh"
#include "core/check.h"
#include "core/log.h"
#include "kernels/cuda/cuda_check.h"

namespace rotor {
namespace {

using cuda::PeerAlgo;
using cuda::PeerHostWords;
using cuda::PeerSet;

// Ranks that share a GPU spin-wait for each other in the peer kernels. With CUDA's default lazy
// loading, the first launch of a kernel loads it and may synchronise the whole context: a rank
// that queues a not-yet-loaded kernel behind its all-gather then waits for that all-gather,
// which waits for a rank blocked behind the same load (seen on an H100: the first all-gather of
// four same-device ranks hung). Loading every kernel when CUDA starts removes the wait. Set
// before main, so before any CUDA call; a CUDA_MODULE_LOADING the user set is kept.
[[maybe_unused]] const bool kEagerModuleLoading = setenv("CUDA_MODULE_LOADING", "EAGER", 0) == 0;

// The group's peer memory: every rank's staging and flags (device memory of that rank's GPU)
// and the host-mapped words; the last communicator to go frees it, after syncing its stream.
struct PeerShared {
  std::mutex mu;
  PeerHostWords* host = nullptr;
  std::vector<int> devices;
  std::vector<char*> staging;
  std::vector<uint32_t*> flags;

  explicit PeerShared(int world) : devices(world, -1), staging(world, nullptr), flags(world, nullptr) {
    ROTOR_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&host), sizeof(PeerHostWords),
                                   cudaHostAllocMapped | cudaHostAllocPortable));
    std::memset(host, 0, sizeof(PeerHostWords));
  }
  ~PeerShared() {
    for (size_t r = 0; r < devices.size(); ++r) {
      if (devices[r] < 0) continue;
      cudaSetDevice(devices[r]);
      cudaFree(staging[r]);
      cudaFree(flags[r]);
    }
    cudaFreeHost(host);
  }
};

// What each rank tells the others at set-up.
struct RankInfo {
  int device;
  int sm_count;
  int peer_ok;  // this rank's GPU can reach every other rank's GPU
};

// The grid of every peer collective (the same on all ranks). Ranks on one GPU spin-wait for
// each other from different streams, so all their blocks must be resident at once, and
// another rank's kernel that still has to finish before that rank reaches the meeting must
// find SMs free: the group's blocks on one GPU stay within half its SMs.
int peer_blocks(const std::vector<RankInfo>& info) {
  int min_sms = info[0].sm_count, per_gpu = 1;
  for (const RankInfo& r : info) {
    min_sms = std::min(min_sms, r.sm_count);
    per_gpu = std::max<int>(per_gpu, std::count_if(info.begin(), info.end(),
                                                   [&](const RankInfo& q) { return q.device == r.device; }));
  }
  if (per_gpu == 1) return std::min({kPeerBlocksSeparateGpus, min_sms, cuda::kPeerMaxBlocks});
  return std::clamp(min_sms / 2 / per_gpu, 1, cuda::kPeerMaxBlocks);
}

bool is_bf16_rows(const Tensor& t, int64_t T, int64_t H) {
  return t.dtype() == DType::BF16 && t.ndim() == 2 && t.size(0) == T && t.size(1) == H && t.stride(1) == 1 &&
         t.stride(0) % 8 == 0 && reinterpret_cast<uintptr_t>(t.data()) % 16 == 0;
}

class PeerComm final : public CudaComm {
 public:
  PeerComm(std::shared_ptr<LocalGroup> group, int rank, int device, cudaStream_t stream, const CudaCommOptions& o)
      : group_(std::move(group)), rank_(rank), device_(device), stream_(stream) {
    const int world = group_->world_size();
    ROTOR_CHECK(rank >= 0 && rank < world, "CUDA communicator: rank {} of {}", rank, world);
    ROTOR_CUDA_CHECK(cudaSetDevice(device));
    RankInfo mine{device, 0, 1};
    ROTOR_CUDA_CHECK(cudaDeviceGetAttribute(&mine.sm_count, cudaDevAttrMultiProcessorCount, device));
    // Every rank needs to know the others' GPUs before it can ask for peer access to them.
    const std::vector<RankInfo> first = group_->exchange_value(rank, mine);
    bool shared_gpu = false;
    for (int r = 0; r < world; ++r) {
      for (int q = r + 1; q < world; ++q) shared_gpu |= first[r].device == first[q].device;
      if (first[r].device == device) continue;
      int can = 0;
      ROTOR_CUDA_CHECK(cudaDeviceCanAccessPeer(&can, device, first[r].device));
      mine.peer_ok &= can;
    }
    const std::vector<RankInfo> info = group_->exchange_value(rank, mine);
    has_peer_ = world <= cuda::kPeerMaxRanks;
    for (const RankInfo& r : info) has_peer_ &= r.peer_ok != 0;
    if (has_peer_) set_up_peer(info, o.staging_bytes);
    if (o.nccl && !shared_gpu && world > 1) {
      const NcclId id = group_->exchange_value(rank, rank == 0 ? nccl_unique_id() : NcclId{})[0];
      nccl_ = make_nccl_comm(id, rank, world, device, stream, group_);
    }
    ROTOR_CHECK(has_peer_ || nccl_ || world == 1,
                "CUDA communicator: {} ranks with neither peer access between their GPUs nor NCCL", world);
    if (rank == 0)
      ROTOR_LOG_INFO("tensor parallel {}: peer collectives {} ({} blocks, {} MiB staging per rank), NCCL {}", world,
                     has_peer_ ? "on" : "off (no peer access between the GPUs)", peer_.blocks,
                     peer_.capacity >> 20,
                     nccl_ ? "on"
                     : shared_gpu ? "off (ranks share a GPU: NCCL refuses two ranks on one device)"
                                  : "off");
  }

  ~PeerComm() override {
    if (hook_ >= 0) group_->remove_abort_hook(hook_);
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);  // the peer memory outlives this rank's kernels
  }

  int rank() const override { return rank_; }
  int world_size() const override { return group_->world_size(); }
  bool has_nccl() const override { return nccl_ != nullptr; }
  bool has_peer() const override { return has_peer_; }
  int device() const override { return device_; }
  cudaStream_t stream() const override { return stream_; }

  CommAlgo pick(size_t bytes) const override {
    if (!has_peer_) return CommAlgo::Nccl;
    if (nccl_ && bytes > kPeerMaxBytes) return CommAlgo::Nccl;
    const int world = world_size();
    const size_t one_shot_max = world <= 2 ? kPeerMaxBytes : world <= 4 ? kOneShotMaxBytes4 : kOneShotMaxBytes8;
    return bytes <= one_shot_max ? CommAlgo::OneShot : CommAlgo::TwoShot;
  }

  void all_reduce_sum(const Tensor& t) override { all_reduce_sum(t, CommAlgo::Auto); }

  void all_reduce_sum(const Tensor& t, CommAlgo algo) override {
    check_tensor(t, "all_reduce_sum");
    if (world_size() == 1) return;
    // bf16 (activations) or f32 (the vocabulary-parallel logits): 16-byte vectors of 8 or 4.
    const bool f32 = t.dtype() == DType::F32;
    const int64_t per_vec = f32 ? 4 : 8, size = f32 ? 4 : 2;
    const bool peer_ok = has_peer_ && (f32 || t.dtype() == DType::BF16) && t.numel() % per_vec == 0 &&
                         aligned16(t.data());
    if (algo == CommAlgo::Auto) algo = peer_ok ? pick(t.nbytes()) : CommAlgo::Nccl;
    if (algo == CommAlgo::Nccl) {
      ROTOR_CHECK(nccl_, "all_reduce_sum of {}: {} (bf16 or f32, 16-byte aligned, whole 16-byte vectors, for the "
                  "peer kernels)", t.str(), nccl_unavailable());
      return nccl_->all_reduce_sum(t);
    }
    ROTOR_CHECK(peer_ok, "all_reduce_sum {}: the peer kernels take bf16 or f32, 16-byte aligned, whole 16-byte vectors",
                t.str());
    check_abort();
    const int64_t piece = static_cast<int64_t>(peer_.capacity) / size / per_vec * per_vec;  // elements
    char* p = static_cast<char*>(t.data());
    for (int64_t at = 0; at < t.numel(); at += piece) {
      const int64_t n = std::min(piece, t.numel() - at);
      launched(cuda::peer_all_reduce(peer_, peer_algo(algo), p + at * size, p + at * size, n, stream_, f32),
               "all_reduce_sum");
    }
  }

  bool all_reduce_rms_norm(const AllReduceNorm& a) override { return all_reduce_rms_norm(a, CommAlgo::Auto); }

  bool all_reduce_rms_norm(const AllReduceNorm& a, CommAlgo algo) override {
    check_tensor(a.x, "all_reduce_rms_norm");
    const int64_t T = a.x.ndim() == 2 ? a.x.size(0) : -1, H = a.x.ndim() == 2 ? a.x.size(1) : -1;
    const bool fusable = has_peer_ && !a.quant && H > 0 && H % 8 == 0 && H <= cuda::kPeerMaxHidden &&
                         is_bf16_rows(a.x, T, H) && is_bf16_rows(a.residual, T, H) && is_bf16_rows(a.out, T, H) &&
                         a.weight.dtype() == DType::BF16 && a.weight.numel() == H && a.weight.is_contiguous() &&
                         aligned16(a.weight.data()) &&
                         (!a.bias.defined() || (a.bias.dtype() == DType::BF16 && a.bias.numel() == H &&
                                                a.bias.is_contiguous() && aligned16(a.bias.data()))) &&
                         a.residual.device() == a.x.device() && a.out.device() == a.x.device() &&
                         a.weight.device() == a.x.device();
    if (algo == CommAlgo::Auto) algo = fusable ? pick(static_cast<size_t>(T * H) * 2) : CommAlgo::Nccl;
    if (algo == CommAlgo::Nccl) return false;
    ROTOR_CHECK(fusable, "all_reduce_rms_norm: x {}, residual {}, out {} do not suit the peer kernels", a.x.str(),
                a.residual.str(), a.out.str());
    if (world_size() == 1) return false;
    check_abort();
    const int64_t piece = std::max<int64_t>(1, static_cast<int64_t>(peer_.capacity) / (2 * H));  // rows
    for (int64_t at = 0; at < T; at += piece) {
      const int64_t rows = std::min(piece, T - at);
      launched(cuda::peer_all_reduce_norm(peer_, peer_algo(algo), a.x.row_ptr(at), a.x.stride(0),
                                          a.residual.row_ptr(at), a.residual.stride(0), a.weight.data(),
                                          a.bias.defined() ? a.bias.data() : nullptr, a.eps, a.out.row_ptr(at),
                                          a.out.stride(0), rows, H, stream_),
               "all_reduce_rms_norm");
    }
    return true;
  }

  void all_gather(const Tensor& in, const Tensor& out) override {
    check_tensor(in, "all_gather");
    check_tensor(out, "all_gather");
    ROTOR_CHECK(in.is_contiguous() && out.is_contiguous() && out.nbytes() == in.nbytes() * world_size(),
                "all_gather: {} from each of {} ranks into {}", in.str(), world_size(), out.str());
    if (nccl_) return nccl_->all_gather(in, out);
    check_abort();
    const int64_t bytes = static_cast<int64_t>(in.nbytes()), piece = static_cast<int64_t>(peer_.capacity);
    for (int64_t at = 0; at < bytes; at += piece)
      launched(cuda::peer_all_gather(peer_, static_cast<const char*>(in.data()) + at,
                                     static_cast<char*>(out.data()) + at, std::min(piece, bytes - at), bytes, stream_),
               "all_gather");
  }

  void broadcast(const Tensor& t, int root) override {
    check_tensor(t, "broadcast");
    ROTOR_CHECK(root >= 0 && root < world_size() && t.is_contiguous(), "broadcast: {} from root {} of {} ranks",
                t.str(), root, world_size());
    if (nccl_) return nccl_->broadcast(t, root);
    check_abort();
    const int64_t bytes = static_cast<int64_t>(t.nbytes()), piece = static_cast<int64_t>(peer_.capacity);
    for (int64_t at = 0; at < bytes; at += piece)
      launched(cuda::peer_broadcast(peer_, root, static_cast<char*>(t.data()) + at, std::min(piece, bytes - at),
                                    stream_),
               "broadcast");
  }

  void check() override {
    check_abort();
    if (nccl_) nccl_->check();
  }
  void abort(const std::string& reason) override { group_->abort(reason); }

 private:
  static bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }
  static PeerAlgo peer_algo(CommAlgo a) { return a == CommAlgo::TwoShot ? PeerAlgo::TwoShot : PeerAlgo::OneShot; }

  std::string nccl_unavailable() const {
    return has_peer_ ? "this group has no NCCL (ranks share a GPU, or NCCL is off)" : "no NCCL";
  }

  void check_tensor(const Tensor& t, const char* what) const {
    ROTOR_CHECK(t.device() == (Device{DeviceType::CUDA, device_}), "{}: {} is not on this rank's GPU cuda:{}", what,
                t.str(), device_);
  }

  // Allocates this rank's staging and flags, publishes them and reads everyone's.
  void set_up_peer(const std::vector<RankInfo>& info, size_t staging_bytes) {
    const int world = world_size();
    shared_ = group_->shared_state<PeerShared>("cuda_comm.peer", [&] { return std::make_shared<PeerShared>(world); });
    for (const RankInfo& r : info) {  // every other GPU, once (enabling twice is an error to ignore)
      if (r.device == device_) continue;
      const cudaError_t e = cudaDeviceEnablePeerAccess(r.device, 0);
      if (e == cudaErrorPeerAccessAlreadyEnabled) cudaGetLastError();
      else ROTOR_CUDA_CHECK(e);
    }
    const size_t capacity = (std::max<size_t>(staging_bytes, 4096) + 4095) / 4096 * 4096;
    char* staging = nullptr;
    uint32_t* flags = nullptr;
    ROTOR_CUDA_CHECK(cudaMalloc(&staging, 2 * capacity));
    const cudaError_t e = cudaMalloc(&flags, cuda::kPeerFlagsBytes);
    if (e != cudaSuccess) cudaFree(staging);
    ROTOR_CUDA_CHECK(e);
    ROTOR_CUDA_CHECK(cudaMemset(flags, 0, cuda::kPeerFlagsBytes));
    {
      std::lock_guard lock(shared_->mu);
      shared_->devices[rank_] = device_;
      shared_->staging[rank_] = staging;
      shared_->flags[rank_] = flags;
    }
    ROTOR_CUDA_CHECK(cudaDeviceSynchronize());  // the zeroed flags, before any peer can signal
    group_->barrier(rank_);
    std::lock_guard lock(shared_->mu);
    for (int r = 0; r < world; ++r) {
      peer_.staging[r] = shared_->staging[r];
      peer_.flags[r] = shared_->flags[r];
    }
    peer_.counters = flags + 2 * cuda::kPeerMaxBlocks * cuda::kPeerMaxRanks;
    ROTOR_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&peer_.host), shared_->host, 0));
    host_ = shared_->host;
    peer_.rank = rank_;
    peer_.world = world;
    peer_.blocks = peer_blocks(info);
    peer_.capacity = capacity;
    peer_.timeout_ns = static_cast<uint64_t>(group_->timeout().count()) * 1'000'000;
    hook_ = group_->add_abort_hook([host = host_] { reinterpret_cast<volatile uint32_t&>(host->abort) = 1; });
  }

  void launched(cudaError_t e, const char* what) {
    if (e != cudaSuccess)
      ROTOR_FAIL("{} on rank {} (GPU {}): peer kernel launch failed: {}", what, rank_, device_, cudaGetErrorString(e));
  }

  // Throws, and aborts the group, once a device-side wait gave up or the group was aborted.
  void check_abort() {
    if (group_->aborted()) ROTOR_FAIL("rank {}: the group was aborted: {}", rank_, group_->abort_reason());
    if (host_ == nullptr || reinterpret_cast<volatile uint32_t&>(host_->abort) == 0) return;
    std::string what;
    for (int r = 0; r < world_size(); ++r) {
      const volatile cuda::PeerError& e = host_->errors[r];
      if (e.failed == 0) continue;
      what += fmt::format("{}rank {} waited more than {} s for rank {} (block {}, call {})", what.empty() ? "" : "; ",
                          r, static_cast<double>(group_->timeout().count()) / 1000.0, e.peer, e.block, e.call);
    }
    const std::string msg = fmt::format(
        "peer collective gave up on the GPU: {}: that rank stopped or fell behind (ROTOR_COMM_TIMEOUT_S)",
        what.empty() ? "the group's abort word was set" : what);
    group_->abort(msg);
    ROTOR_FAIL("{}", msg);
  }

  std::shared_ptr<LocalGroup> group_;
  const int rank_, device_;
  cudaStream_t stream_;
  bool has_peer_ = false;
  std::shared_ptr<PeerShared> shared_;
  PeerSet peer_{};
  PeerHostWords* host_ = nullptr;
  int hook_ = -1;
  std::unique_ptr<Communicator> nccl_;
};

}  // namespace

const char* comm_algo_name(CommAlgo a) {
  switch (a) {
    case CommAlgo::Auto: return "auto";
    case CommAlgo::OneShot: return "one-shot";
    case CommAlgo::TwoShot: return "two-shot";
    case CommAlgo::Nccl: return "nccl";
  }
  return "?";
}

std::unique_ptr<CudaComm> make_cuda_comm(std::shared_ptr<LocalGroup> group, int rank, int device, cudaStream_t stream,
                                         const CudaCommOptions& options) {
  return std::make_unique<PeerComm>(std::move(group), rank, device, stream, options);
}

}  // namespace rotor
