// tests/support/device_copy.h — a host tensor copied onto an Ops' device, and a device tensor
// copied back to the host once the device's queued work is done: the GPU tests' transfers.
#pragma once
#include "core/buffer.h"
#include "kernels/ops.h"

namespace rotor::test {

inline OwnedTensor to_device(Ops& ops, const Tensor& host) {
  OwnedTensor d(ops.allocator(), host.dtype(), host.shape());
  ops.allocator().copy(d.tensor.data(), host.data(), host.nbytes());
  return d;
}

inline OwnedTensor to_host(Ops& ops, const Tensor& device) {
  ops.synchronize();
  OwnedTensor h(cpu_allocator(), device.dtype(), device.shape());
  ops.allocator().copy(h.tensor.data(), device.data(), device.nbytes());
  return h;
}

}  // namespace rotor::test
