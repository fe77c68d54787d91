// structured/json_number.cpp — decimal ranges: same-length digit strings between two bounds,
// then integer ranges by digit count and sign, then decimals around the bounds' integer parts.
#include "structured/json_number.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/check.h"

namespace rotor::structured {
namespace {

constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();
constexpr int64_t kLimit = 1000000000000000;  // 1e15

Expr digit_class(int lo, int hi) { return chars({{static_cast<uint32_t>('0' + lo), static_cast<uint32_t>('0' + hi)}}); }
Expr any_digits(size_t n) { return repeat(digit_class(0, 9), static_cast<int>(n), static_cast<int>(n)); }

// Digit strings of x.size() digits that are >= x (ge) or <= x (le).
Expr same_length_ge(const std::string& x) {
  if (x.empty()) return empty();
  std::vector<Expr> opts{seq({lit(x.substr(0, 1)), same_length_ge(x.substr(1))})};
  if (x[0] < '9') opts.push_back(seq({digit_class(x[0] - '0' + 1, 9), any_digits(x.size() - 1)}));
  return alt(std::move(opts));
}
Expr same_length_le(const std::string& x) {
  if (x.empty()) return empty();
  std::vector<Expr> opts{seq({lit(x.substr(0, 1)), same_length_le(x.substr(1))})};
  if (x[0] > '0') opts.push_back(seq({digit_class(0, x[0] - '0' - 1), any_digits(x.size() - 1)}));
  return alt(std::move(opts));
}
// Digit strings of the common length of x <= y between them.
Expr same_length_between(const std::string& x, const std::string& y) {
  if (x.empty()) return empty();
  if (x[0] == y[0]) return seq({lit(x.substr(0, 1)), same_length_between(x.substr(1), y.substr(1))});
  std::vector<Expr> opts{seq({lit(x.substr(0, 1)), same_length_ge(x.substr(1))})};
  if (y[0] - x[0] > 1) opts.push_back(seq({digit_class(x[0] - '0' + 1, y[0] - '0' - 1), any_digits(x.size() - 1)}));
  opts.push_back(seq({lit(y.substr(0, 1)), same_length_le(y.substr(1))}));
  return alt(std::move(opts));
}

// Non-negative integers in [a, b] (b = kUnbounded: no upper bound), no leading zeros.
Expr natural_range(int64_t a, int64_t b) {
  std::vector<Expr> opts;
  const std::string sa = std::to_string(a);
  if (b == kUnbounded) {
    opts.push_back(same_length_between(sa, std::string(sa.size(), '9')));
    opts.push_back(seq({digit_class(1, 9), repeat(digit_class(0, 9), static_cast<int>(sa.size()), -1)}));
    return alt(std::move(opts));
  }
  const std::string sb = std::to_string(b);
  for (size_t len = sa.size(); len <= sb.size(); ++len) {
    std::string lo = sa;
    if (len != sa.size()) {
      lo.assign(len, '0');
      lo[0] = '1';
    }
    const std::string hi = len == sb.size() ? sb : std::string(len, '9');
    opts.push_back(same_length_between(lo, hi));
  }
  return alt(std::move(opts));
}

// Integers in [lo, hi] (either may be unbounded).
Expr int_range(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<Expr> opts;
  // Negative part: "-" and a magnitude in [max(1, -hi), -lo].
  if (!lo || *lo < 0) {
    const int64_t mag_lo = hi && *hi < 0 ? -*hi : 1, mag_hi = lo ? -*lo : kUnbounded;
    opts.push_back(seq({lit("-"), natural_range(mag_lo, mag_hi)}));
  }
  if (!hi || *hi >= 0) opts.push_back(natural_range(lo && *lo > 0 ? *lo : 0, hi ? *hi : kUnbounded));
  return alt(std::move(opts));
}

// A bound as sign, integer digits and fraction digits.
struct Decimal {
  bool negative = false;
  int64_t int_part = 0;
  std::string frac;  // without trailing zeros
};

Decimal parse_decimal(const std::string& text) {
  const double v = std::strtod(text.c_str(), nullptr);  // std::stod throws on a subnormal
  ROTOR_CHECK(std::isfinite(v) && std::fabs(v) < static_cast<double>(kLimit),
              "JSON schema: a numeric bound of {} is out of the supported range (|x| < 1e15)", text);
  // The shortest decimal that reads back as v (no exponent below 1e15 magnitudes past 1e-6).
  std::string s = fmt::format("{:.15f}", std::fabs(v));
  const double back = std::stod(s);
  ROTOR_CHECK(back == std::fabs(v), "JSON schema: the bound {} has more precision than supported", text);
  Decimal d;
  d.negative = v < 0;
  const size_t dot = s.find('.');
  d.int_part = std::stoll(s.substr(0, dot));
  d.frac = s.substr(dot + 1);
  while (!d.frac.empty() && d.frac.back() == '0') d.frac.pop_back();
  if (d.int_part == 0 && d.frac.empty()) d.negative = false;
  return d;
}

// A digit string of n digits one step above / below x (same length); nullopt past the end.
std::optional<std::string> step(std::string x, int dir) {
  for (size_t i = x.size(); i-- > 0;) {
    if (dir > 0 ? x[i] < '9' : x[i] > '0') {
      x[i] = static_cast<char>(x[i] + dir);
      return x;
    }
    x[i] = dir > 0 ? '0' : '9';
  }
  return std::nullopt;
}

// Non-negative decimals m with lo <= m <= hi (exclusive flags; hi may be absent), written
// I or I.F: integer parts strictly inside take any fraction; a bound's integer part takes k
// fraction digits compared digit by digit.
Expr magnitude_range(const Decimal& lo, bool lo_ex, const std::optional<Decimal>& hi, bool hi_ex) {
  const size_t k = std::max({size_t{1}, lo.frac.size(), hi ? hi->frac.size() : size_t{0}});
  auto pad = [&](const std::string& f) { return f + std::string(k - f.size(), '0'); };
  const std::string flo = pad(lo.frac), fhi = hi ? pad(hi->frac) : std::string();
  const Expr any_frac = opt(seq({lit("."), plus(digit_class(0, 9))}));
  std::vector<Expr> opts;
  // Fraction digit bounds at the bounds' integer parts (nullopt: nothing there).
  std::optional<std::string> f_min = lo_ex ? step(flo, 1) : std::optional<std::string>(flo);
  std::optional<std::string> f_max = hi ? (hi_ex ? step(fhi, -1) : std::optional<std::string>(fhi)) : std::nullopt;
  const std::string ilo = std::to_string(lo.int_part);
  if (hi && hi->int_part == lo.int_part) {
    if (f_min && f_max && *f_min <= *f_max)
      opts.push_back(seq({lit(ilo + "."), same_length_between(*f_min, *f_max)}));
  } else {
    if (f_min) opts.push_back(seq({lit(ilo + "."), same_length_ge(*f_min)}));
    const int64_t inner_hi = hi ? hi->int_part - 1 : kUnbounded;
    if (lo.int_part + 1 <= inner_hi) opts.push_back(seq({natural_range(lo.int_part + 1, inner_hi), any_frac}));
    if (hi && f_max) opts.push_back(seq({lit(std::to_string(hi->int_part) + "."), same_length_le(*f_max)}));
  }
  ROTOR_CHECK(!opts.empty(), "JSON schema: the numeric range is empty");
  return alt(std::move(opts));
}

std::optional<int64_t> int_bound(const std::optional<NumberBound>& b, bool lower) {
  if (!b) return std::nullopt;
  parse_decimal(b->value);  // range and precision checks
  const double v = b->number();
  int64_t x = static_cast<int64_t>(lower ? std::ceil(v) : std::floor(v));
  if (b->exclusive && static_cast<double>(x) == v) x += lower ? 1 : -1;
  return x;
}

}  // namespace

Expr integer_range(const std::optional<NumberBound>& lo, const std::optional<NumberBound>& hi) {
  const std::optional<int64_t> a = int_bound(lo, true), b = int_bound(hi, false);
  ROTOR_CHECK(!a || !b || *a <= *b, "JSON schema: no integer lies between the bounds");
  return int_range(a, b);
}

Expr number_range(const std::optional<NumberBound>& lo, const std::optional<NumberBound>& hi) {
  if (!lo && !hi) {
    return seq({opt(lit("-")), alt({lit("0"), seq({digit_class(1, 9), star(digit_class(0, 9))})}),
                opt(seq({lit("."), plus(digit_class(0, 9))})),
                opt(seq({chars({{'E', 'E'}, {'e', 'e'}}), opt(chars({{'+', '+'}, {'-', '-'}})), plus(digit_class(0, 9))}))});
  }
  const std::optional<Decimal> a = lo ? std::optional<Decimal>(parse_decimal(lo->value)) : std::nullopt;
  const std::optional<Decimal> b = hi ? std::optional<Decimal>(parse_decimal(hi->value)) : std::nullopt;
  if (lo && hi) ROTOR_CHECK(lo->number() <= hi->number(), "JSON schema: minimum above maximum");
  const bool lo_ex = lo && lo->exclusive, hi_ex = hi && hi->exclusive;
  std::vector<Expr> opts;
  // Negative numbers: "-" and a magnitude in (max(0, -hi), -lo], the zero end exclusive.
  if (!a || a->negative) {
    Decimal mag_lo;  // 0
    bool mag_lo_ex = true;
    if (b && b->negative) {
      mag_lo = *b;
      mag_lo.negative = false;
      mag_lo_ex = hi_ex;
    }
    std::optional<Decimal> mag_hi;
    if (a) {
      mag_hi = *a;
      mag_hi->negative = false;
    }
    opts.push_back(seq({lit("-"), magnitude_range(mag_lo, mag_lo_ex, mag_hi, lo_ex)}));
  }
  if (!b || !b->negative) {
    Decimal m_lo;
    bool m_lo_ex = false;
    if (a && !a->negative) m_lo = *a, m_lo_ex = lo_ex;
    opts.push_back(magnitude_range(m_lo, m_lo_ex, b, hi_ex));
  }
  return alt(std::move(opts));
}

}  // namespace rotor::structured
