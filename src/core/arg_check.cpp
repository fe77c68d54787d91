// core/arg_check.cpp — tensor argument checks and their messages.
#include "core/arg_check.h"

#include <fmt/format.h>

#include "core/check.h"

namespace rotor {
namespace {

constexpr DType kAllDTypes[] = {DType::F32, DType::F16,  DType::BF16, DType::F8E4M3, DType::I64,
                                DType::I32, DType::I16, DType::I8,   DType::U8,     DType::Bool};

const char* layout_name(Layout l) { return l == Layout::Contiguous ? "contiguous" : "with unit-stride rows"; }

bool laid_out(const Tensor& t, Layout l) {
  if (l == Layout::Contiguous) return t.is_contiguous();
  return t.ndim() > 0 && t.stride(-1) == 1;
}

}  // namespace

std::string DTypes::str() const {
  std::string names[std::size(kAllDTypes)];
  size_t n = 0;
  for (DType d : kAllDTypes)
    if (contains(d)) names[n++] = std::string(dtype_name(d));
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i == 0 ? "" : i + 1 == n ? " or " : ", ") + names[i];
  return s;
}

void expect_tensor(const char* op, const char* name, const Tensor& t, DTypes dtypes, Layout layout,
                   std::initializer_list<Dim> dims) {
  bool shape_ok = t.ndim() == static_cast<int>(dims.size());
  int i = 0;
  for (const Dim& d : dims) shape_ok = shape_ok && t.size(i++) == d.size;
  if (shape_ok && dtypes.contains(t.dtype()) && laid_out(t, layout)) [[likely]]
    return;
  std::string names, sizes;
  for (const Dim& d : dims) {
    names += fmt::format("{}{}", names.empty() ? "" : ", ", d.name);
    sizes += fmt::format("{}{}", sizes.empty() ? "" : ", ", d.size);
  }
  ROTOR_FAIL("{}: {} must be {} {} [{}] = [{}], got {}{}", op, name, dtypes.str(), layout_name(layout), names, sizes,
             t.str(), t.defined() && !laid_out(t, layout) ? " (strided)" : "");
}

void expect_vector(const char* op, const char* name, const Tensor& t, DTypes dtypes, Dim n) {
  if (t.numel() == n.size && dtypes.contains(t.dtype()) && t.is_contiguous() && t.defined()) [[likely]]
    return;
  ROTOR_FAIL("{}: {} must be {} contiguous [{}] = [{}], got {}{}", op, name, dtypes.str(), n.name, n.size, t.str(),
             t.defined() ? (t.is_contiguous() ? "" : " (strided)") : " (undefined)");
}

void expect_on(const char* op, const char* name, const Tensor& t, const Device& device) {
  ROTOR_CHECK(!t.defined() || t.device() == device, "{}: {} must be on {} (the backend's device), got {}", op, name,
              device.str(), t.str());
}

}  // namespace rotor
