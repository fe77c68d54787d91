// kernels/backend.h — choosing a backend by name: "cpu", "cuda", "cuda:N" or "auto"
// (the first GPU when rotor was built with CUDA and one is present, else the CPU).
#pragma once
#include <memory>
#include <string_view>

#include "kernels/ops.h"

namespace rotor {

std::unique_ptr<Ops> make_ops(std::string_view device);
bool cuda_available();

}  // namespace rotor
