// structured/json_string.cpp — JSON string characters, escapes, patterns and formats.
#include "structured/json_string.h"

#include <algorithm>

#include "structured/regex.h"

namespace rotor::structured {
namespace {

Expr hex() { return chars({{'0', '9'}, {'A', 'F'}, {'a', 'f'}}); }

bool contains(const std::vector<Range>& cls, uint32_t c) {
  return std::any_of(cls.begin(), cls.end(), [&](const Range& r) { return r.lo <= c && c <= r.hi; });
}

Expr regex_in_string(std::string_view pattern, bool search) {
  RegexOptions o;
  o.char_class = [](const std::vector<Range>& cls) { return json_chars(cls); };
  o.search = search;
  return seq({lit("\""), parse_regex(pattern, o), lit("\"")});
}

}  // namespace

Expr json_string_char() {
  // \uXXXX escapes of surrogates are left out: a lone one is not a character.
  const Expr u = seq({lit("\\u"), alt({seq({chars({{'0', '9'}, {'A', 'C'}, {'E', 'F'}, {'a', 'c'}, {'e', 'f'}}),
                                            repeat(hex(), 3, 3)}),
                                       seq({chars({{'D', 'D'}, {'d', 'd'}}), chars({{'0', '7'}}), repeat(hex(), 2, 2)})})});
  return alt({chars({{'"', '"'}, {'\\', '\\'}, {0, 0x1F}}, true),
              seq({lit("\\"), chars({{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', 'b'}, {'f', 'f'}, {'n', 'n'},
                                     {'r', 'r'}, {'t', 't'}})}),
              u});
}

Expr json_string(int min_len, int max_len) {
  return seq({lit("\""), repeat(json_string_char(), min_len, max_len), lit("\"")});
}

Expr json_chars(const std::vector<Range>& cls) {
  std::vector<Range> plain;
  for (const Range& r : cls) {
    // Remove the control characters, '"' and '\\' from each range.
    uint32_t lo = std::max<uint32_t>(r.lo, 0x20);
    for (uint32_t cut : {static_cast<uint32_t>('"'), static_cast<uint32_t>('\\')}) {
      if (lo > r.hi) break;
      if (cut >= lo && cut <= r.hi) {
        if (cut > lo) plain.push_back({lo, cut - 1});
        lo = cut + 1;
      }
    }
    if (lo <= r.hi) plain.push_back({lo, r.hi});
  }
  std::vector<Expr> opts;
  if (!plain.empty()) opts.push_back(chars(plain));
  const std::pair<uint32_t, const char*> escapes[] = {{'"', "\\\""}, {'\\', "\\\\"}, {'\b', "\\b"}, {'\f', "\\f"},
                                                      {'\n', "\\n"}, {'\r', "\\r"},  {'\t', "\\t"}};
  for (const auto& [c, text] : escapes)
    if (contains(cls, c)) opts.push_back(lit(text));
  if (opts.empty()) return chars({});  // no edge: nothing can be written
  return alt(std::move(opts));
}

Expr json_string_pattern(std::string_view pattern) { return regex_in_string(pattern, true); }

std::optional<Expr> json_string_format(std::string_view f) {
  const std::string day = "(0[1-9]|1[0-9]|2[0-8])";
  const std::string date = "[0-9]{4}-((0[13578]|1[02])-(" + day.substr(1, day.size() - 2) + "|29|30|31)|(0[469]|11)-(" +
                           day.substr(1, day.size() - 2) + "|29|30)|02-" + day + ")";
  const std::string time = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
  const std::string label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,20}[a-zA-Z0-9])?";
  std::string re;
  if (f == "date") re = date;
  else if (f == "time") re = time;
  else if (f == "date-time") re = date + "T" + time;
  else if (f == "email") re = "[a-zA-Z0-9_+-]+(\\.[a-zA-Z0-9_+-]+)*@" + label + "(\\." + label + ")+";
  else if (f == "uuid") re = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
  else if (f == "ipv4") re = "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
  else if (f == "hostname") re = label + "(\\." + label + "){0,4}";
  else if (f == "uri") re = "https?://" + label + "(\\." + label + ")*(/[a-zA-Z0-9._~-]*)*";
  else return std::nullopt;
  return regex_in_string(re, false);
}

}  // namespace rotor::structured
