// kernels/decode_plan.cpp — the host planner of decode attention's splits (decode_plan.h) and
// the environment switch that turns it on.
#include "kernels/decode_plan.h"

#include <algorithm>
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

// A row of len tokens in n nearly equal pieces: each a multiple of the alignment but the last.
int even_piece(int len, int n) {
  constexpr int A = kDecodeSplitAlign;
  return ((len + n - 1) / n + A - 1) / A * A;
}

// Whether the real rows cut into ceil(len / chunk) even pieces take fewer tokens' worth of waves
// of target items (the blocks of one item run alike, so a wave lasts as long as its longest
// piece) than the fixed cut's whole chunk pieces, whose short rests are left out of the count.
bool even_fits_fewer_waves(std::span<const int32_t> lens, int num_real, int chunk, int target) {
  int64_t items = 0, whole = 0;
  int longest = 0;
  for (int s = 0; s < num_real; ++s) {
    const int n = (lens[s] + chunk - 1) / chunk;
    items += n;
    whole += lens[s] / chunk;
    longest = std::max(longest, n == 1 ? lens[s] : even_piece(lens[s], n));
  }
  const auto waves = [&](int64_t n) { return (n + target - 1) / target; };
  return waves(items) * longest < waves(whole) * chunk;
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
  plan.even = !overflow || (p.wave_fit && even_fits_fewer_waves(lens, num_real, plan.chunk, p.target_items));
  plan.data.assign(2 + S, 0);
  for (int s = 0; s < S; ++s) {
    const int len = lens[s];
    const int n = s < num_real ? (len + plan.chunk - 1) / plan.chunk : 1;
    // n nearly equal pieces, each a multiple of A long but the last: (n - 1) * piece <= (n - 1)
    // * chunk < len, so every piece holds at least one token. Past the target, whole max_chunk
    // pieces and the rest (the fixed splits) unless even pieces take fewer waves: at 16k + a
    // few tokens that is 8 full items and a short one a row, where 9 even pieces are 9 nearly
    // full ones, a second wave of blocks when 8 fill one (measured on an H100: the 235B TP-8
    // rank's attention 14% slower at batch 32, 30B-A3B 4% at batch 8).
    const int piece = n == 1 ? len : plan.even ? even_piece(len, n) : plan.chunk;
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
  if (const char* v = std::getenv("ROTOR_DECODE_SPLIT_MIN"); v != nullptr && *v != '\0') {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    ROTOR_CHECK(*end == '\0' && n >= 0 && n <= (1 << 20) && n % kDecodeSplitAlign == 0,
                "ROTOR_DECODE_SPLIT_MIN={}: expected a multiple of {} tokens (0 = the backend's)", v,
                kDecodeSplitAlign);
    e.min_chunk = static_cast<int>(n);
  }
  if (const char* v = std::getenv("ROTOR_DECODE_WAVE_FIT"); v != nullptr && *v != '\0') {
    const std::string s = v;
    ROTOR_CHECK(s == "0" || s == "1", "ROTOR_DECODE_WAVE_FIT={}: expected 0 or 1", s);
    e.wave_fit = s == "1";
  }
  return e;
}

}  // namespace rotor
