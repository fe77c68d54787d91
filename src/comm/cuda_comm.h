// comm/cuda_comm.h — the communicator of a GPU rank whose peers live in the same process
// (one process per node, one thread per GPU; or several ranks on one GPU for testing). It
// runs each collective over the peer-access kernels (comm/peer_all_reduce.cuh) or NCCL,
// chosen by message size, on the stream of its rank.
//
// Ranks that share a GPU (ROTOR_SAME_DEVICE_RANKS, comm/placement.h) have no NCCL: NCCL
// refuses two ranks on one device ("Duplicate GPU detected"), so every collective of such a
// group runs over the peer kernels, over that GPU's memory, whatever its size.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "comm/communicator.h"
#include "comm/local_group.h"

namespace rotor {

enum class CommAlgo { Auto, OneShot, TwoShot, Nccl };
const char* comm_algo_name(CommAlgo a);

// Message sizes (bytes) at which the algorithm changes. Provisional: vLLM's published choice
// for its custom all-reduce on NVLink machines (one-shot below 512 KiB up to 4 ranks and below
// 256 KiB for 8, always one-shot for 2; NCCL above 8 MiB). To be replaced by the H200 numbers
// of `rotor_bench_allreduce` (docs/perf-log.md) once measured.
constexpr size_t kOneShotMaxBytes4 = size_t{512} << 10;  // up to 4 ranks
constexpr size_t kOneShotMaxBytes8 = size_t{256} << 10;  // 5 to 8 ranks
constexpr size_t kPeerMaxBytes = size_t{8} << 20;        // above: NCCL, where there is NCCL
// Blocks per peer collective: on separate GPUs, enough 256-thread blocks to keep NVLink busy;
// ranks that share a GPU split half of its SMs among them (see peer_blocks in cuda_comm.cpp).
constexpr int kPeerBlocksSeparateGpus = 64;

struct CudaCommOptions {
  // Bytes of each staging half per rank (2 halves); larger messages go in pieces.
  size_t staging_bytes = size_t{16} << 20;
  // Use NCCL where it can run (ranks on distinct GPUs).
  bool nccl = true;
};

class CudaComm : public Communicator {
 public:
  using Communicator::all_reduce_rms_norm;
  using Communicator::all_reduce_sum;
  // The same collectives with the algorithm forced (tests, the benchmark); Auto = the choice
  // by size. A forced algorithm that cannot take the tensor throws.
  virtual void all_reduce_sum(const Tensor& t, CommAlgo algo) = 0;
  // Returns false where the fused form does not apply (as the plain call does).
  virtual bool all_reduce_rms_norm(const AllReduceNorm& a, CommAlgo algo) = 0;
  // The algorithm Auto takes for a bf16 message of `bytes`.
  virtual CommAlgo pick(size_t bytes) const = 0;
  virtual bool has_nccl() const = 0;
  virtual bool has_peer() const = 0;
  virtual int device() const = 0;
  virtual cudaStream_t stream() const = 0;
};

// Rank `rank` of `group`, on GPU `device`, collectives queued on `stream`. Collective: every
// rank of the group calls it at the same time (each from its own thread); it exchanges buffer
// addresses through the group, enables peer access and, where NCCL applies, hands rank 0's
// NCCL id to the others in memory. Aborting the group makes every device-side wait give up.
std::unique_ptr<CudaComm> make_cuda_comm(std::shared_ptr<LocalGroup> group, int rank, int device, cudaStream_t stream,
                                         const CudaCommOptions& options = {});

}  // namespace rotor
