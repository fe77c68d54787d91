// core/dtype.cpp — dtype names as safetensors writes them.
#include "core/dtype.h"

#include <array>
#include <utility>

namespace rotor {
namespace {
constexpr std::array<std::pair<DType, std::string_view>, 10> kNames{{
    {DType::F32, "F32"}, {DType::F16, "F16"}, {DType::BF16, "BF16"}, {DType::F8E4M3, "F8_E4M3"},
    {DType::I64, "I64"}, {DType::I32, "I32"}, {DType::I16, "I16"}, {DType::I8, "I8"},
    {DType::U8, "U8"}, {DType::Bool, "BOOL"},
}};
}  // namespace

std::string_view dtype_name(DType t) {
  for (auto& [d, n] : kNames)
    if (d == t) return n;
  return "?";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (auto& [d, n] : kNames)
    if (n == name) return d;
  return std::nullopt;
}

}  // namespace rotor
