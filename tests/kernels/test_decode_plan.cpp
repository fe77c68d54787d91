// tests/kernels/test_decode_plan.cpp — the host planner of decode attention's splits
// (kernels/decode_plan.h) on hand-worked cases and random ones: every token of every row in
// exactly one item, items of at most `chunk` tokens starting at multiples of 16, the shortest
// chunk that meets the target, padding rows one item that moves no real row, the count within
// the bound a launch is sized for; the environment switch.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "core/error.h"
#include "kernels/decode_plan.h"

namespace rotor {
namespace {

// Every property a plan must have; returns the items of row s as (start, end) pairs.
std::vector<std::vector<std::pair<int, int>>> check_plan(const DecodePlan& plan, const std::vector<int32_t>& lens,
                                                          int num_real, const DecodeSplitParams& p) {
  const int S = static_cast<int>(lens.size());
  const std::vector<int32_t>& d = plan.data;
  EXPECT_EQ(static_cast<int64_t>(d.size()), decode_plan_size(S, plan.items));
  EXPECT_EQ(d[0], plan.items);
  EXPECT_EQ(d[1], 0);
  EXPECT_EQ(d[1 + S], plan.items);
  EXPECT_EQ(plan.chunk % kDecodeSplitAlign, 0);
  EXPECT_GE(plan.chunk, p.min_chunk);
  EXPECT_LE(plan.chunk, p.max_chunk);
  int max_len = 1;
  for (int32_t l : lens) max_len = std::max(max_len, l);
  EXPECT_LE(plan.items, decode_plan_max_items(p, S, max_len));
  auto items_at = [&](int c) {
    int n = 0;
    for (int s = 0; s < num_real; ++s) n += (lens[s] + c - 1) / c;
    return n;
  };
  const bool overflow = items_at(p.max_chunk) > p.target_items;
  std::vector<std::vector<std::pair<int, int>>> rows(S);
  int real_items = 0;
  for (int s = 0; s < S; ++s) {
    const int a = d[1 + s], b = d[2 + s];
    EXPECT_LT(a, b) << "row " << s << " has no item";
    if (s >= num_real) {
      EXPECT_EQ(b - a, 1) << "padding row " << s;
    } else {
      real_items += b - a;
    }
    int covered = 0;
    for (int i = a; i < b; ++i) {
      EXPECT_EQ(d[S + 2 + 2 * i], s);
      const int start = d[S + 3 + 2 * i];
      const int end = i + 1 < b ? d[S + 3 + 2 * (i + 1)] : lens[s];
      EXPECT_EQ(start, covered) << "row " << s << " item " << i;  // contiguous, in order, from 0
      EXPECT_EQ(start % kDecodeSplitAlign, 0);
      EXPECT_GT(end, start);
      if (s < num_real) {
        EXPECT_LE(end - start, plan.chunk);
      }
      // Within the target, balanced: no item longer than the row's even share rounded up to the
      // alignment. Past it, the fixed splits: whole max_chunk items and the rest.
      const int n = b - a, share = ((lens[s] + n - 1) / n + kDecodeSplitAlign - 1) / kDecodeSplitAlign * kDecodeSplitAlign;
      if (s < num_real && overflow) {
        EXPECT_EQ(start, (i - a) * p.max_chunk);
      } else {
        EXPECT_LE(end - start, share);
      }
      covered = end;
      rows[s].emplace_back(start, end);
    }
    EXPECT_EQ(covered, lens[s]) << "row " << s << " not covered to its length";
  }
  // The shortest chunk that meets the target, or max_chunk when none does.
  EXPECT_EQ(real_items, items_at(plan.chunk));
  if (plan.chunk < p.max_chunk) {
    EXPECT_LE(real_items, p.target_items);
  }
  if (plan.chunk > p.min_chunk) {
    EXPECT_GT(items_at(plan.chunk - kDecodeSplitAlign), p.target_items);
  }
  return rows;
}

TEST(DecodePlan, OneLongSequenceFillsTheTarget) {
  // 30B-A3B on an H100: 132 SMs x 2 resident blocks / 4 KV heads = 66 items.
  const DecodeSplitParams p{66, 128, 2048};
  const std::vector<int32_t> lens{16400};
  const DecodePlan plan = plan_decode_splits(lens, 1, p);
  // 240 tokens would make 69 items; 256 make ceil(16400 / 256) = 65, of 253 tokens' share
  // rounded to 256: 64 full items and 16 tokens.
  EXPECT_EQ(plan.chunk, 256);
  EXPECT_EQ(plan.items, 65);
  const auto rows = check_plan(plan, lens, 1, p);
  EXPECT_EQ(rows[0][1], std::make_pair(256, 512));
  EXPECT_EQ(rows[0].back(), std::make_pair(16384, 16400));
}

TEST(DecodePlan, LargeBatchKeepsTheLongestSplits) {
  // Batch 32 at 16,400 tokens cannot fit 66 items: the 2,048-token cap, cut as the fixed
  // splits are (8 full items and 16 tokens a row: 9 even pieces would be 9 full ones).
  const DecodeSplitParams p{66, 128, 2048};
  const std::vector<int32_t> lens(32, 16400);
  const DecodePlan plan = plan_decode_splits(lens, 32, p);
  EXPECT_EQ(plan.chunk, 2048);
  EXPECT_EQ(plan.items, 32 * 9);
  const auto rows = check_plan(plan, lens, 32, p);
  EXPECT_EQ(rows[5][1], std::make_pair(2048, 4096));
  EXPECT_EQ(rows[5].back(), std::make_pair(16384, 16400));
}

TEST(DecodePlan, ShortContextsStayWhole) {
  const DecodeSplitParams p{8, 128, 2048};
  const std::vector<int32_t> lens{1, 17, 128, 100};
  const DecodePlan plan = plan_decode_splits(lens, 4, p);
  EXPECT_EQ(plan.chunk, 128);
  EXPECT_EQ(plan.items, 4);
  check_plan(plan, lens, 4, p);
}

TEST(DecodePlan, PaddingMovesNoRealRow) {
  const DecodeSplitParams p{40, 64, 1024};
  const std::vector<int32_t> real{3000, 700, 5};
  std::vector<int32_t> padded = real;
  padded.resize(8, 1);
  const DecodePlan a = plan_decode_splits(real, 3, p), b = plan_decode_splits(padded, 3, p);
  EXPECT_EQ(a.chunk, b.chunk);
  const auto ra = check_plan(a, real, 3, p), rb = check_plan(b, padded, 3, p);
  for (int s = 0; s < 3; ++s) EXPECT_EQ(ra[s], rb[s]);
  EXPECT_EQ(b.items, a.items + 5);
  // All padding (a graph's warm-up step): one item per row.
  const std::vector<int32_t> pad(4, 1);
  EXPECT_EQ(plan_decode_splits(pad, 0, p).items, 4);
}

TEST(DecodePlan, RandomPlansCoverEveryTokenOnce) {
  std::mt19937 g(99);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); };
  for (int trial = 0; trial < 400; ++trial) {
    DecodeSplitParams p;
    p.target_items = uni(1, 600);
    p.min_chunk = kDecodeSplitAlign * uni(1, 16);
    p.max_chunk = p.min_chunk + kDecodeSplitAlign * uni(0, 200);
    const int S = uni(1, 70), num_real = uni(0, S);
    std::vector<int32_t> lens(S, 1);
    const int longest = uni(1, 3) == 1 ? 100 : 40000;
    for (int s = 0; s < num_real; ++s) lens[s] = uni(1, longest);
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " S " << S << " real " << num_real << " target "
                                      << p.target_items << " chunks " << p.min_chunk << ".." << p.max_chunk);
    check_plan(plan_decode_splits(lens, num_real, p), lens, num_real, p);
  }
}

TEST(DecodePlan, BadInputsAreRefused) {
  const std::vector<int32_t> lens{10, 0};
  EXPECT_THROW(plan_decode_splits(lens, 2, {}), Error);                       // an empty context
  const std::vector<int32_t> ok{10};
  EXPECT_THROW(plan_decode_splits(ok, 1, {0, 128, 2048}), Error);             // no target
  EXPECT_THROW(plan_decode_splits(ok, 1, {4, 100, 2048}), Error);             // not a multiple of 16
  EXPECT_THROW(plan_decode_splits(ok, 1, {4, 256, 128}), Error);              // min above max
  EXPECT_THROW(plan_decode_splits(ok, 2, {}), Error);                         // more real rows than rows
}

TEST(DecodePlan, EnvironmentSwitch) {
  unsetenv("ROTOR_DECODE_SPLITS");
  unsetenv("ROTOR_DECODE_SPLIT_MIN");
  unsetenv("ROTOR_DECODE_SPLIT_MAX");
  // Unset: the backend's choice (the GPU plans, the CPU does not).
  DecodeSplitParams gpu, cpu;
  gpu.plan_by_default = true;
  EXPECT_TRUE(decode_split_options_from_env().plans(gpu));
  EXPECT_FALSE(decode_split_options_from_env().plans(cpu));
  setenv("ROTOR_DECODE_SPLITS", "plan", 1);
  setenv("ROTOR_DECODE_SPLIT_MIN", "256", 1);
  EXPECT_TRUE(decode_split_options_from_env().plans(cpu));
  EXPECT_EQ(decode_split_options_from_env().min_chunk, 256);
  EXPECT_EQ(decode_split_options_from_env().max_chunk, 0);
  setenv("ROTOR_DECODE_SPLIT_MAX", "4096", 1);
  EXPECT_EQ(decode_split_options_from_env().max_chunk, 4096);
  setenv("ROTOR_DECODE_SPLIT_MAX", "1000", 1);  // not a multiple of 16
  EXPECT_THROW(decode_split_options_from_env(), Error);
  unsetenv("ROTOR_DECODE_SPLIT_MAX");
  setenv("ROTOR_DECODE_SPLITS", "fixed", 1);
  EXPECT_FALSE(decode_split_options_from_env().plans(gpu));
  setenv("ROTOR_DECODE_SPLITS", "yes", 1);
  EXPECT_THROW(decode_split_options_from_env(), Error);
  setenv("ROTOR_DECODE_SPLITS", "plan", 1);
  setenv("ROTOR_DECODE_SPLIT_MIN", "100", 1);
  EXPECT_THROW(decode_split_options_from_env(), Error);
  unsetenv("ROTOR_DECODE_SPLITS");
  unsetenv("ROTOR_DECODE_SPLIT_MIN");
}

}  // namespace
}  // namespace rotor
