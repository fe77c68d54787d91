// tokenizer/jinja/operators.cpp — Python's binary operators on values (+ - * / // % ** with
// int64 and float arithmetic, sequence repetition and concatenation, % string formatting),
// and iteration over a value.
#include "tokenizer/jinja/operators.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "core/check.h"
#include "tokenizer/jinja/py_string.h"

namespace rotor::jinja {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// A number of a format's width or precision (capped past the largest string a template may build).
uint64_t spec_number(std::string_view spec, size_t& at) {
  uint64_t n = 0;
  for (; at < spec.size() && spec[at] >= '0' && spec[at] <= '9'; ++at) n = std::min<uint64_t>(n * 10 + (spec[at] - '0'), kMaxStringBytes + 1);
  return n;
}

// Python's %d %i %o %x %X of n, `spec` its flags, width and precision: the sign ('-', or '+' /
// ' ' as flagged), '#''s prefix 0o / 0x / 0X, the digits of |n| zero-padded to the precision,
// then padded to the width: spaces before, or after with '-', or zeros after sign and prefix
// with '0'. C's printf differs: two's complement for negative %x and %o, '#' as 0 for %o.
std::string format_integer(long long n, char conv, std::string_view spec) {
  const std::string_view flags = spec.substr(0, std::min(spec.size(), spec.find_first_not_of("-+ 0#")));
  const auto flag = [&](char f) { return flags.find(f) != std::string_view::npos; };
  size_t at = flags.size();
  const uint64_t width = spec_number(spec, at);
  std::optional<uint64_t> precision;
  if (at < spec.size() && spec[at] == '.') precision = spec_number(spec, ++at);
  ROTOR_CHECK(at == spec.size(), "unsupported format character '{}'", std::string(1, spec[at]));
  const bool negative = n < 0;
  const unsigned long long magnitude = negative ? 0ull - static_cast<unsigned long long>(n) : static_cast<unsigned long long>(n);
  const int base = conv == 'o' ? 8 : conv == 'x' || conv == 'X' ? 16 : 10;
  char buf[64];
  std::string digits(buf, std::to_chars(buf, buf + sizeof buf, magnitude, base).ptr);
  if (conv == 'X') std::transform(digits.begin(), digits.end(), digits.begin(), [](char c) { return c >= 'a' ? static_cast<char>(c - 'a' + 'A') : c; });
  if (precision && digits.size() < *precision) digits.insert(0, *precision - digits.size(), '0');
  std::string head = negative ? "-" : flag('+') ? "+" : flag(' ') ? " " : "";
  if (flag('#') && base != 10) head += conv == 'o' ? "0o" : conv == 'x' ? "0x" : "0X";
  const size_t length = head.size() + digits.size();
  if (width <= length) return head + digits;
  const auto fill = static_cast<size_t>(width - length);
  if (flag('-')) return head + digits + std::string(fill, ' ');
  if (flag('0')) return head + std::string(fill, '0') + digits;
  return std::string(fill, ' ') + head + digits;
}

// Python's % string formatting for the common conversions (%s %r %d %i %f %x %%).
std::string percent_format(const std::string& fmt, const Value& arg) {
  std::vector<Value> args = arg.is_tuple() ? arg.as_list() : std::vector<Value>{arg};
  std::string out;
  size_t k = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    ROTOR_CHECK(i + 1 < fmt.size(), "incomplete format");
    size_t j = i + 1;
    std::string spec;
    while (j < fmt.size() && std::string_view("-+ 0#.123456789").find(fmt[j]) != std::string_view::npos) spec += fmt[j++];
    ROTOR_CHECK(j < fmt.size(), "incomplete format");
    const char conv = fmt[j];
    i = j;
    if (conv == '%') {
      out += '%';
      continue;
    }
    ROTOR_CHECK(k < args.size(), "not enough arguments for format string");
    const Value& v = args[k++];
    // Width and precision bound the text: at most each plus a number's own digits.
    uint64_t room = 400;
    for (size_t at = 0; at < spec.size();) {
      room += spec_number(spec, at);
      if (at < spec.size() && (spec[at] < '0' || spec[at] > '9')) ++at;
    }
    check_string_size(out.size() + room);
    auto print = [&](const std::string& f, auto x) {
      std::string buf(static_cast<size_t>(room), '\0');
      const int len = std::snprintf(buf.data(), buf.size(), f.c_str(), x);
      ROTOR_CHECK(len >= 0 && static_cast<size_t>(len) < buf.size(), "format '{}' failed", f);
      out.append(buf.data(), static_cast<size_t>(len));
    };
    switch (conv) {
      case 's': out += v.str(); break;
      case 'r': out += v.repr(); break;
      case 'd': case 'i': case 'x': case 'X': case 'o': {
        ROTOR_CHECK(v.is_number() || v.is_bool(), "%{} format: a number is required, not {}", conv, v.type_name());
        const double t = std::trunc(v.as_double());
        ROTOR_CHECK(!v.is_float() || (t >= -0x1p63 && t < 0x1p63), "%{} format: {} is past 64 bits", conv, v.repr());
        const long long n = v.is_float() ? static_cast<long long>(t) : v.is_bool() ? v.as_bool() : v.as_int();
        out += format_integer(n, conv, spec);
        break;
      }
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
        ROTOR_CHECK(v.is_number() || v.is_bool(), "%{} format: a number is required, not {}", conv, v.type_name());
        print("%" + spec + conv, v.as_double());
        break;
      }
      default: ROTOR_FAIL("unsupported format character '{}'", std::string(1, conv));
    }
  }
  ROTOR_CHECK(k == args.size(), "not all arguments converted during string formatting");
  return out;
}

}  // namespace

void integer_overflow(const std::string& expression) {
  ROTOR_FAIL("integer overflow: {} is past 64 bits (rotor has no big integers)", expression);
}

std::string undefined_message(const Value& v) { return v.name().empty() ? "undefined value" : v.name(); }

std::vector<Value> iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: return {};
    case Value::Type::List: return v.as_list();
    case Value::Type::String: {
      check_list_size(static_cast<uint64_t>(*v.length()));
      std::vector<Value> out;
      for (std::string_view c : chars_of(v.as_string())) out.emplace_back(std::string(c));
      return out;
    }
    case Value::Type::Dict: {
      ROTOR_CHECK(!v.is_namespace(), "'Namespace' object is not iterable");
      std::vector<Value> out;
      for (const auto& kv : v.as_dict().items) out.emplace_back(kv.first);
      return out;
    }
    default: ROTOR_FAIL("'{}' object is not iterable", v.type_name());
  }
}

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  const auto numeric = [](const Value& v) { return v.is_number() || v.is_bool(); };
  const auto as_i = [](const Value& v) { return v.is_bool() ? static_cast<int64_t>(v.as_bool()) : v.as_int(); };
  auto type_error = [&]() -> Value {
    ROTOR_FAIL("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
  };
  if (a.is_undefined() || b.is_undefined()) ROTOR_FAIL("{}", undefined_message(a.is_undefined() ? a : b));
  if (numeric(a) && numeric(b)) {
    const bool ints = !a.is_float() && !b.is_float();
    const int64_t x = ints ? as_i(a) : 0, y = ints ? as_i(b) : 0;
    const double fx = a.as_double(), fy = b.as_double();
    int64_t r = 0;
    const auto overflow = [&]() -> Value { integer_overflow(fmt::format("{} {} {}", x, op, y)); };
    if (op == "+") return ints ? (__builtin_add_overflow(x, y, &r) ? overflow() : Value(r)) : Value(fx + fy);
    if (op == "-") return ints ? (__builtin_sub_overflow(x, y, &r) ? overflow() : Value(r)) : Value(fx - fy);
    if (op == "*") return ints ? (__builtin_mul_overflow(x, y, &r) ? overflow() : Value(r)) : Value(fx * fy);
    if (op == "/") {
      ROTOR_CHECK(fy != 0, "division by zero");
      return Value(fx / fy);
    }
    if (op == "//") {
      ROTOR_CHECK(fy != 0, "integer division or modulo by zero");
      if (ints && x == INT64_MIN && y == -1) return overflow();  // 2**63
      return ints ? Value(floor_div(x, y)) : Value(std::floor(fx / fy));
    }
    if (op == "%") {
      ROTOR_CHECK(fy != 0, "integer division or modulo by zero");
      if (ints && y == -1) return Value(int64_t{0});
      if (ints) {  // Python's sign (the divisor's) from C's remainder, which cannot overflow
        const int64_t m = x % y;
        return Value(m != 0 && ((m < 0) != (y < 0)) ? m + y : m);
      }
      const double m = std::fmod(fx, fy);
      return Value(m != 0 && ((m < 0) != (fy < 0)) ? m + fy : m);
    }
    if (op == "**") {
      if (ints && y >= 0) {  // by squaring: 1 ** 10**18 takes 60 steps, not 10**18
        int64_t p = 1, base = x;
        for (int64_t e = y; e > 0; e >>= 1) {
          if ((e & 1) && __builtin_mul_overflow(p, base, &p)) return overflow();
          if (e > 1 && __builtin_mul_overflow(base, base, &base)) return overflow();
        }
        return Value(p);
      }
      return Value(std::pow(fx, fy));
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      check_string_size(a.as_string().size() + b.as_string().size());
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      check_list_size(a.as_list().size() + b.as_list().size());
      List l = a.as_list();
      l.insert(l.end(), b.as_list().begin(), b.as_list().end());
      return Value::list(std::move(l), a.is_tuple());
    }
  }
  if (op == "*" && (a.is_int() || b.is_int()) && (a.is_string() || b.is_string() || a.is_list() || b.is_list())) {
    const Value& seq = a.is_int() ? b : a;
    const int64_t n = a.is_int() ? a.as_int() : b.as_int();
    const uint64_t count = n > 0 ? static_cast<uint64_t>(n) : 0;
    const uint64_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().size();
    if (count > 0 && unit > 0) {
      const uint64_t limit = seq.is_string() ? kMaxStringBytes : kMaxListItems;
      if (count > limit / unit) seq.is_string() ? check_string_size(limit + 1) : check_list_size(limit + 1);
    }
    if (seq.is_string()) {
      std::string s;
      for (int64_t k = 0; k < n; ++k) s += seq.as_string();
      return Value(std::move(s));
    }
    List l;
    for (int64_t k = 0; k < n; ++k) l.insert(l.end(), seq.as_list().begin(), seq.as_list().end());
    return Value::list(std::move(l), seq.is_tuple());
  }
  if (op == "%" && a.is_string()) return Value(percent_format(a.as_string(), b));
  return type_error();
}

}  // namespace rotor::jinja
