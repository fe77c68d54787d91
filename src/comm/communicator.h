// comm/communicator.h — collective operations between tensor-parallel ranks. The model
// calls these at its two reduction points per layer; with one rank they do nothing.
#pragma once
#include <memory>

#include "core/tensor.h"

namespace rotor {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // In place: t = sum over ranks of t.
  virtual void all_reduce_sum(const Tensor& t) = 0;
  // out [world_size * n] = concatenation of every rank's in [n].
  virtual void all_gather(const Tensor& in, const Tensor& out) = 0;
};

// The communicator of a single rank: collectives are identities.
std::unique_ptr<Communicator> make_local_comm();

}  // namespace rotor
