// core/dtype.h — element types of tensors, their sizes and names (safetensors spelling).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rotor {

enum class DType : uint8_t { F32, F16, BF16, F8E4M3, I64, I32, I16, I8, U8, Bool };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I64: return 8;
    case DType::F8E4M3: case DType::I8: case DType::U8: case DType::Bool: return 1;
  }
  return 0;
}

// The name used in safetensors headers ("F32", "BF16", "I8", ...).
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);

}  // namespace rotor
