// comm/peer_all_reduce.cuh — collectives over CUDA peer access between the ranks of one
// process (one thread per GPU, or several ranks on one GPU for testing): all-reduce of bf16
// or f32 (one-shot and two-shot), the all-reduce fused with the residual add and RMSNorm that follow
// it, all-gather and broadcast of bytes. Launchers take pointers, sizes and a stream; they
// never synchronise with the host, so they replay inside CUDA graphs.
//
// Each rank owns a staging buffer (two halves, used on alternate calls) and a flag array in
// its device memory; every rank knows every rank's addresses (PeerSet). A call copies this
// rank's data into its own staging half, then meets the other ranks block by block (block b
// of every rank raises a flag at every peer and waits for theirs), then reads the peers'
// staging. Flags carry a per-block call count kept in device memory, so nothing on the host
// changes between calls. Waits give up after a timeout or when the group's abort word is set,
// recording what they waited for (PeerError) instead of hanging.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace rotor::cuda {

constexpr int kPeerMaxRanks = 8;
constexpr int kPeerMaxBlocks = 64;
constexpr int kPeerThreads = 256;
constexpr int kPeerMaxHidden = 8 * kPeerThreads * 4;  // the fused norm keeps a row in registers

// What a timed-out wait records (host-mapped memory, one per rank).
struct PeerError {
  uint32_t failed;  // non-zero once a wait timed out
  int32_t peer;     // the rank it waited for
  int32_t block;
  uint32_t call;    // that block's call count
};

// Host-mapped memory shared by the group: the abort word and each rank's error record.
struct PeerHostWords {
  uint32_t abort;
  PeerError errors[kPeerMaxRanks];
};

struct PeerSet {
  char* staging[kPeerMaxRanks];    // each rank's staging: 2 halves of `capacity` bytes
  uint32_t* flags[kPeerMaxRanks];  // each rank's flags [2 stages][kPeerMaxBlocks][kPeerMaxRanks]
  uint32_t* counters;              // this rank's calls so far, per block [kPeerMaxBlocks]
  PeerHostWords* host;             // host-mapped (device-visible pointer)
  int rank = 0;
  int world = 1;
  int blocks = 1;                  // the grid of every call (the same on every rank)
  uint64_t capacity = 0;           // bytes per staging half
  uint64_t timeout_ns = 0;
};

// Bytes of a rank's flag array plus its counters.
constexpr size_t kPeerFlagsBytes = (2 * kPeerMaxBlocks * kPeerMaxRanks + kPeerMaxBlocks) * sizeof(uint32_t);

enum class PeerAlgo {
  OneShot,  // every rank reads every rank's whole message and sums it
  TwoShot,  // each rank sums 1/world of it (reduce-scatter), then every rank reads the sums
};

// out[i] = sum over ranks of in[i] in rank order (f32, rounded once); n elements of bf16
// (n % 8 == 0) or, with f32, of f32 (n % 4 == 0: the vocabulary-parallel logits); in and out
// 16-byte aligned (in == out allowed), n elements <= capacity bytes.
cudaError_t peer_all_reduce(const PeerSet& p, PeerAlgo algo, const void* in, void* out, int64_t n,
                            cudaStream_t stream, bool f32 = false);

// The fused reduction point (comm/communicator.h AllReduceNorm, bf16): s = sum over ranks of
// x (rounded to bf16), residual += s, out = rms_norm(residual) * w (+ bias), the arithmetic
// of kernels/cuda/rms_norm.cu. x, residual, out [T, H] rows with strides (elements, multiples
// of 8); H % 8 == 0, H <= kPeerMaxHidden; 2 T H <= capacity.
cudaError_t peer_all_reduce_norm(const PeerSet& p, PeerAlgo algo, const void* x, int64_t x_stride, void* residual,
                                 int64_t res_stride, const void* w, const void* bias, float eps, void* out,
                                 int64_t out_stride, int64_t T, int64_t H, cudaStream_t stream);

// out[r * rank_stride, r * rank_stride + bytes) = rank r's in[0, bytes); bytes <= capacity.
cudaError_t peer_all_gather(const PeerSet& p, const void* in, void* out, int64_t bytes, int64_t rank_stride,
                            cudaStream_t stream);

// Every rank's t[0, bytes) = root's; bytes <= capacity.
cudaError_t peer_broadcast(const PeerSet& p, int root, void* t, int64_t bytes, cudaStream_t stream);

}  // namespace rotor::cuda
