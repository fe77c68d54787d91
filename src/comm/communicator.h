// comm/communicator.h — collective operations between tensor-parallel ranks. The model
// calls these at its two reduction points per layer; with one rank they do nothing.
// Implementations: local_comm (one rank), thread_comm (CPU ranks as threads of one process,
// host-side reduction), cuda_comm (GPU ranks of one process: peer-access kernels and NCCL).
//
// Every rank calls the same collectives in the same order with tensors of the same shape
// and dtype. Tensors live on the communicator's device; on a GPU, collectives are queued on
// the stream the communicator was made with (ordered after the work already queued there,
// capturable in a CUDA graph) and are complete when that stream passes them.
// Sums are taken in rank order, ((t0 + t1) + t2) + ..., in f32, rounded once to the tensor's
// dtype, so every rank holds the same bits and a run is reproducible.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "core/tensor.h"

namespace rotor {

// W8A8 static activation quantisation of a norm's output (ops.h's rms_norm_quant).
struct StaticQuant {
  float scale = 1.0f;
  float offset = 0.0f;
};

// The fused form of a reduction point: the sum over ranks of x, added to the residual, then
// RMSNorm. The result is that of all_reduce_sum(x) followed by
//   ops.rms_norm(x, weight, bias, eps, out, residual)            (quant empty), or
//   ops.rms_norm_quant(x, weight, bias, eps, q.scale, q.offset, out, residual)  (quant = q).
struct AllReduceNorm {
  Tensor x;         // [T, H] this rank's partial sum; clobbered
  Tensor residual;  // [T, H] the same on every rank; += the sum
  Tensor weight;    // [H]
  Tensor bias;      // [H], or undefined (none)
  float eps = 1e-6f;
  Tensor out;       // [T, H]: the activation dtype, or i8 with quant
  std::optional<StaticQuant> quant;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // In place: t = sum over ranks of t.
  virtual void all_reduce_sum(const Tensor& t) = 0;
  // out [world_size * n] = concatenation of every rank's in [n], by rank.
  virtual void all_gather(const Tensor& in, const Tensor& out) = 0;
  // t = root's t on every rank (any dtype).
  virtual void broadcast(const Tensor& t, int root) = 0;
  // The fused reduction (AllReduceNorm). Returns false, having done nothing, when this
  // communicator has no fused form for these arguments; the caller then runs all_reduce_sum
  // and the norm op. The answer depends only on shapes, dtypes and the world size, so every
  // rank takes the same path.
  virtual bool all_reduce_rms_norm(const AllReduceNorm& a) {
    (void)a;
    return false;
  }
  // Throws if an earlier collective failed on the device (a GPU wait that timed out, a rank
  // that aborted the group). GPU collectives report such failures asynchronously: call this
  // after waiting for the stream (the runner does, once per step).
  virtual void check() {}
  // Stops the group for good, from any thread: every rank waiting in a collective now (on the
  // host or on the device) or calling one later fails with an error naming `reason`, so a rank
  // that failed never leaves the others waiting. No-op for one rank.
  virtual void abort(const std::string& reason) { (void)reason; }
};

// The communicator of a single rank: collectives are identities.
std::unique_ptr<Communicator> make_local_comm();

}  // namespace rotor
