// comm/local_comm.cpp — the one-rank communicator.
#include <cstring>
#include "core/check.h"

#include "comm/communicator.h"

namespace rotor {
namespace {

class LocalComm final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(const Tensor&) override {}
  void all_gather(const Tensor& in, const Tensor& out) override {
    ROTOR_CHECK(in.nbytes() == out.nbytes(), "all_gather: {} into {}", in.str(), out.str());
    ROTOR_CHECK(in.device().is_cpu(), "local all_gather of device tensors is the backend's copy");
    if (in.data() != out.data()) std::memcpy(out.data(), in.data(), in.nbytes());
  }
  void broadcast(const Tensor&, int root) override { ROTOR_CHECK(root == 0, "broadcast: root {} of 1 rank", root); }
};

}  // namespace

std::unique_ptr<Communicator> make_local_comm() { return std::make_unique<LocalComm>(); }

}  // namespace rotor
