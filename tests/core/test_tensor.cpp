// tests/core/test_tensor.cpp — Tensor views, shapes, dtypes, bf16 conversion, errors; ProgressMeter lines.
#include <gtest/gtest.h>

#include <cmath>

#include "core/bf16.h"
#include "core/buffer.h"
#include "core/progress.h"
#include "core/tensor.h"

namespace rotor {
namespace {

TEST(Tensor, ContiguousStridesAndViews) {
  OwnedTensor o(cpu_allocator(), DType::F32, {4, 6});
  const Tensor& t = o.tensor;
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.stride(0), 6);
  EXPECT_TRUE(t.is_contiguous());
  Tensor v = t.view({2, -1, 3});
  EXPECT_EQ(v.size(1), 4);
  Tensor cols = t.narrow(1, 2, 3);
  EXPECT_FALSE(cols.is_contiguous());
  EXPECT_EQ(cols.stride(0), 6);
  EXPECT_EQ(static_cast<float*>(cols.row_ptr(1)) - t.data<float>(), 8);
  EXPECT_THROW(cols.view({9}), Error);
  EXPECT_THROW(t.narrow(1, 4, 3), Error);
  EXPECT_THROW(t.view({5, 5}), Error);
}

TEST(Tensor, ExpectNamesTheTensor) {
  OwnedTensor o(cpu_allocator(), DType::BF16, {2, 3});
  try {
    expect(o.tensor, DType::BF16, {3, 2}, "layer.weight");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer.weight"), std::string::npos);
  }
}

TEST(DType, NamesRoundTrip) {
  for (DType d : {DType::F32, DType::BF16, DType::F16, DType::I8, DType::I32, DType::I64, DType::F8E4M3})
    EXPECT_EQ(dtype_from_name(dtype_name(d)), d);
  EXPECT_FALSE(dtype_from_name("Q4").has_value());
}

TEST(BF16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 3.0f / 256), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

}  // namespace
}  // namespace rotor

namespace rotor {
namespace {

// core/progress.h: the numbers of a progress line.
TEST(ProgressMeter, LineShowsBytesRateAndEta) {
  EXPECT_EQ(ProgressMeter::bytes_str(512), "512 B");
  EXPECT_EQ(ProgressMeter::bytes_str(1536), "1.5 KiB");
  EXPECT_EQ(ProgressMeter::bytes_str(3.0 * (1 << 20)), "3.0 MiB");
  EXPECT_EQ(ProgressMeter::bytes_str(1.5 * (1 << 30)), "1.50 GiB");
  const uint64_t gib = uint64_t{1} << 30;
  EXPECT_EQ(ProgressMeter::line(gib, 4 * gib, 10.0), "1.00 GiB / 4.00 GiB (25.0%), 102.4 MiB/s, ETA 30 s");
  EXPECT_EQ(ProgressMeter::line(4 * gib, 4 * gib, 10.0), "4.00 GiB / 4.00 GiB (100.0%), 409.6 MiB/s");
  EXPECT_EQ(ProgressMeter::line(1 << 20, 0, 1.0), "1.0 MiB, 1.0 MiB/s");
  ProgressMeter m("test", 100, 3600.0);
  m.add(40, "a");
  m.add(60);
  EXPECT_EQ(m.done(), 100u);
}

}  // namespace
}  // namespace rotor
