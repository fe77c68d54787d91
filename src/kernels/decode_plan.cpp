// kernels/decode_plan.cpp — the host planner of decode attention's splits (decode_plan.h) and
// the environment switch that turns it on.
#include "kernels/decode_plan.h"

#include <cstdlib>
#include <string>

#include "core/check.h"

namespace rotor {
namespace {

int64_t items_at(std::span<const int32_t> lens, int num_real, int chunk) {
  int64_t n = 0;
  for (int s = 0; s < num_real; ++s) n += (lens[s] + chunk - 1) / chunk;
  return n;
}

}  // namespace

DecodePlan plan_decode_splits(std::span<const int32_t> lens, int num_real, const DecodeSplitParams& p) {
  const int S = static_cast<int>(lens.size());
  constexpr int A = kDecodeSplitAlign;
  ROTOR_CHECK(p.target_items >= 1 && p.min_chunk >= A && p.min_chunk % A == 0 && p.max_chunk >= p.min_chunk &&
                  p.max_chunk % A == 0,
              "decode split plan: bad parameters (target {} items, chunks {}..{} tokens, multiples of {})",
              p.target_items, p.min_chunk, p.max_chunk, A);
  ROTOR_CHECK(num_real >= 0 && num_real <= S, "decode split plan: {} real rows of {}", num_real, S);
  for (int s = 0; s < S; ++s)
    ROTOR_CHECK(lens[s] >= 1, "decode split plan: row {} has a context of {} tokens", s, lens[s]);

  // The shortest chunk (in units of A) whose items fit the target; the item count only falls
  // as the chunk grows, so a binary search finds it.
  int lo = p.min_chunk / A, hi = p.max_chunk / A;
  const bool overflow = items_at(lens, num_real, hi * A) > p.target_items;
  if (overflow) {
    lo = hi;
  } else {
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      if (items_at(lens, num_real, mid * A) <= p.target_items) hi = mid;
      else lo = mid + 1;
    }
  }
  DecodePlan plan;
  plan.chunk = lo * A;
  plan.data.assign(2 + S, 0);
  for (int s = 0; s < S; ++s) {
    const int len = lens[s];
    const int n = s < num_real ? (len + plan.chunk - 1) / plan.chunk : 1;
    // n nearly equal pieces, each a multiple of A long but the last: (n - 1) * piece <= (n - 1)
    // * chunk < len, so every piece holds at least one token. Past the target, whole max_chunk
    // pieces and the rest (the fixed splits): at 16k + a few tokens that is 8 full items and a
    // short one a row, where 9 even pieces are 9 full ones, a second wave of blocks (measured
    // on an H100: the 235B TP-8 rank's attention 14% slower at batch 32, 30B-A3B 4% at batch 8).
    // Even pieces where they fill the last wave better (30B-A3B's e4m3 cache at 32 x 16k: 288
    // items in 3 waves of 99, against 256 whole ones in 2.6) measured no faster (perf-log,
    // 2026-12-06 11:30): a memory-bound wave's blocks share its bandwidth however many run.
    const int piece = n == 1 ? len : overflow ? plan.chunk : ((len + n - 1) / n + A - 1) / A * A;
    plan.data[1 + s] = plan.items;
    for (int k = 0; k < n; ++k) {
      plan.data.push_back(s);
      plan.data.push_back(k * piece);
    }
    plan.items += n;
  }
  plan.data[0] = plan.items;
  plan.data[1 + S] = plan.items;
  return plan;
}

DecodeSplitOptions decode_split_options_from_env() {
  DecodeSplitOptions e;
  if (const char* v = std::getenv("ROTOR_DECODE_SPLITS"); v != nullptr && *v != '\0') {
    const std::string s = v;
    ROTOR_CHECK(s == "plan" || s == "fixed", "ROTOR_DECODE_SPLITS={}: expected plan or fixed", s);
    e.mode = s == "plan" ? DecodeSplitOptions::Mode::Plan : DecodeSplitOptions::Mode::Fixed;
  }
  const auto tokens = [](const char* var) {
    const char* v = std::getenv(var);
    if (v == nullptr || *v == '\0') return 0;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    ROTOR_CHECK(*end == '\0' && n >= 0 && n <= (1 << 20) && n % kDecodeSplitAlign == 0,
                "{}={}: expected a multiple of {} tokens (0 = the backend's)", var, v, kDecodeSplitAlign);
    return static_cast<int>(n);
  };
  e.min_chunk = tokens("ROTOR_DECODE_SPLIT_MIN");
  e.max_chunk = tokens("ROTOR_DECODE_SPLIT_MAX");
  return e;
}

}  // namespace rotor
