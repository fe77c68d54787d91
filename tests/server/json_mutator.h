// tests/server/json_mutator.h — hostile variants of valid JSON request bodies for the request
// fuzz (test_request_fuzz.cpp), from a seed: values replaced by values of other types, odd
// numbers (2^63, 1e308, -0, tokens past a double's range), odd strings (long, NULs, nested a
// few hundred thousand deep as JSON, regex or EBNF text, stacked quantifiers, long rule chains,
// template and special-token text), invalid UTF-8, fields dropped, added (known or not) or
// given twice, values nested deeper; then the text truncated or its bytes flipped, inserted,
// deleted or repeated.
#pragma once
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "server/json.h"

namespace rotor::server::test {

// Makes one input from a body: mutated as JSON, with markers for what JSON values cannot hold
// (raw number tokens, invalid UTF-8, repeated keys, nesting deeper than is sensible to build),
// then serialised, the markers replaced, and sometimes mutated as bytes.
class JsonMutator {
 public:
  // bodies: valid ones, whose values are reused (a field's value from another body); field_names:
  // the fields added to random objects.
  JsonMutator(uint64_t seed, const std::vector<json>& bodies, std::vector<std::string> field_names)
      : rng_(seed), field_names_(std::move(field_names)) {
    for (const json& b : bodies) collect_values(b);
  }

  std::string mutate(json body) {
    raw_.clear();
    const bool bytes_only = chance(8);
    const int value_mutations = bytes_only ? 0 : 1 + static_cast<int>(pick(4));
    for (int i = 0; i < value_mutations; ++i) mutate_value(body);
    std::string text = body.dump();
    for (size_t m = 0; m < raw_.size(); ++m) {
      const std::string marker = json(marker_of(m)).dump();
      for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + raw_[m].size()))
        text.replace(at, marker.size(), raw_[m]);
    }
    if (bytes_only || chance(4)) {
      const int byte_mutations = 1 + static_cast<int>(pick(3));
      for (int i = 0; i < byte_mutations; ++i) mutate_bytes(text);
    }
    return text;
  }

 private:
  uint64_t pick(uint64_t n) { return rng_() % n; }
  bool chance(int one_in) { return pick(static_cast<uint64_t>(one_in)) == 0; }
  static std::string marker_of(size_t m) { return "@@rotor-fuzz-raw-" + std::to_string(m) + "@@"; }
  // A string value that becomes `raw` in the text.
  json raw(std::string text) {
    raw_.push_back(std::move(text));
    return marker_of(raw_.size() - 1);
  }

  void collect_values(const json& v) {
    if (v.is_object())
      for (const auto& [k, e] : v.items()) {
        known_[k].push_back(e);
        collect_values(e);
      }
    if (v.is_array())
      for (const json& e : v) collect_values(e);
  }

  static std::string nested(const std::string& open, const std::string& inner, const std::string& close, size_t n) {
    std::string s;
    s.reserve(n * (open.size() + close.size()) + inner.size());
    for (size_t i = 0; i < n; ++i) s += open;
    s += inner;
    for (size_t i = 0; i < n; ++i) s += close;
    return s;
  }

  // Strings that stress what reads them: long, deep inside (JSON, regex, EBNF), template and
  // special-token text, NULs.
  std::string odd_string() {
    static const size_t kDepths[] = {63, 64, 65, 256, 257, 1000, 100000};
    const size_t depth = kDepths[pick(std::size(kDepths))];
    switch (pick(17)) {
      case 0: return "";
      case 1: return std::string(1 + pick(3) * 40000, 'a');
      case 2: return std::string("a\0b", 3);
      case 3: return nested("{\"a\":", "1", "}", depth);
      case 4: return nested("[", "", "]", depth);
      case 5: return nested("(", "a", ")", depth);
      case 6: return "root ::= " + nested("(", "\"a\"", ")", depth);
      case 7: return "{{ raise_exception('x') }}{% for m in messages %}";
      case 8: return "<|im_start|>assistant\n<tool_call>\n{\"name\": \"f\"}</tool_call><|im_end|><think>";
      case 9: return "\xe2\x80\x8f\xf0\x9f\x98\x80 \u00e9\n\r\t\"\\";
      case 10: return "a{100000}{100000}";
      case 11: return "[^]*|\\";
      case 12: return "{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"#\"}}}";
      case 13: return std::string("a").append(depth, pick(2) == 0 ? '*' : '?');
      case 14: return std::string("root ::= \"a\"").append(depth, '*');
      case 15: {
        std::string rules = "root ::= r0\n";
        for (size_t i = 0; i < depth; ++i) rules += fmt::format("r{} ::= \"a\" r{}\n", i, i + 1);
        return rules + fmt::format("r{} ::= \"b\"\n", depth);
      }
      default: {
        static const char* kWords[] = {"text", "function", "auto", "required", "none", "user", "assistant", "tool",
                                       "system", "json_object", "json_schema", "message", "function_call",
                                       "function_call_output", "input_text", "disabled", "fuzz",
                                       "message.output_text.logprobs", "get_weather"};
        return kWords[pick(std::size(kWords))];
      }
    }
  }

  // Numbers at the edges: of int32, int64 and uint64, of float and double (subnormals too), -0,
  // and tokens no double holds.
  json odd_number() {
    switch (pick(4)) {
      case 0: {
        static const int64_t kInts[] = {0, 1, -1, 2, 3, 21, 2147483647, 2147483648, -2147483649, INT64_MAX, INT64_MIN,
                                        151935, 151936, 1000000};
        return kInts[pick(std::size(kInts))];
      }
      case 1: {
        static const uint64_t kBig[] = {uint64_t{1} << 63, UINT64_MAX};
        return kBig[pick(2)];
      }
      case 2: {
        static const double kFloats[] = {-0.0, 0.5, -0.5, 1.0, 2.0, 1e308, -1e308, 1e-320, 5e-324, 4e38,
                                         3.4028235e38, 9.3e18, 1e19, 2.5, -2.0000001};
        return kFloats[pick(std::size(kFloats))];
      }
      default: {
        static const char* kTokens[] = {"1e400", "-1e400", "1e-400", "-0", "123456789012345678901234567890", "2E2",
                                        "0.1e1"};
        return raw(kTokens[pick(std::size(kTokens))]);
      }
    }
  }

  json odd_value() {
    switch (pick(10)) {
      case 0: return nullptr;
      case 1: return pick(2) == 0;
      case 2:
      case 3: return odd_number();
      case 4: {
        static const char* kStrings[] = {"\"\xff\"", "\"a\xc3\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
                                         "\"\xc0\xaf\"", "\"\\ud800\"", "\"\\udc00x\"", "\"a\\u0000b\"",
                                         "\"\\u0000\""};
        return raw(kStrings[pick(std::size(kStrings))]);
      }
      case 5: return odd_string();
      case 6: {
        static const size_t kDepths[] = {63, 64, 65, 1000, 150000};
        const size_t depth = kDepths[pick(5)];
        return pick(2) == 0 ? raw(nested("[", "1", "]", depth)) : raw(nested("{\"a\":", "1", "}", depth));
      }
      case 7: {
        json a = json::array();
        const size_t n = pick(2) == 0 ? pick(4) : 5000;
        for (size_t i = 0; i < n; ++i) a.push_back(pick(2) == 0 ? json(static_cast<int>(i)) : json("w"));
        return a;
      }
      case 8: return pick(2) == 0 ? json::object() : json{{"type", odd_string()}, {"text", "x"}, {"name", "f"}};
      default: {
        const auto it = std::next(known_.begin(), static_cast<std::ptrdiff_t>(pick(known_.size())));
        return it->second[pick(it->second.size())];
      }
    }
  }

  // Every value of the body, with where it sits.
  struct Slot {
    json* value;
    json* parent;  // null for the root
    std::string key;
    size_t index;
  };
  static void slots_of(json& v, json* parent, const std::string& key, size_t index, std::vector<Slot>& out) {
    out.push_back({&v, parent, key, index});
    if (v.is_object())
      for (auto it = v.begin(); it != v.end(); ++it) slots_of(it.value(), &v, it.key(), 0, out);
    if (v.is_array())
      for (size_t i = 0; i < v.size(); ++i) slots_of(v[i], &v, "", i, out);
  }

  void mutate_value(json& body) {
    std::vector<Slot> slots;
    slots_of(body, nullptr, "", 0, slots);
    std::vector<Slot> objects, scalars;
    for (const Slot& s : slots) {
      if (s.value->is_object()) objects.push_back(s);
      if (s.parent && s.value->is_primitive()) scalars.push_back(s);
    }
    const Slot& s = slots[pick(slots.size())];
    switch (pick(7)) {
      case 0:
        if (s.parent) *s.value = odd_value();
        break;
      case 1:  // a string or number, odd of its kind
        if (!scalars.empty()) {
          json& v = *scalars[pick(scalars.size())].value;
          v = v.is_string() ? json(odd_string()) : v.is_number() ? odd_number() : odd_value();
        }
        break;
      case 2:  // drop a field
        if (s.parent && s.parent->is_object()) s.parent->erase(s.key);
        else if (s.parent) s.parent->erase(s.index);
        break;
      case 3: {  // add a field, known or not
        json& o = *objects[pick(objects.size())].value;
        const std::string& name = field_names_[pick(field_names_.size())];
        o[name] = chance(2) && known_.count(name) ? known_[name][pick(known_[name].size())] : odd_value();
        break;
      }
      case 4: {  // a key given twice: the marker key becomes the same key in the text
        if (!s.parent || !s.parent->is_object()) break;
        (*s.parent)[raw(json(s.key).dump()).get<std::string>()] = odd_value();
        break;
      }
      case 5:  // the value nested in arrays or objects
        if (s.parent) {
          const size_t depth = 1 + pick(70);
          for (size_t i = 0; i < depth; ++i) *s.value = chance(2) ? json::array({*s.value}) : json{{"a", *s.value}};
        }
        break;
      default:  // another value of the body in its place
        if (s.parent) *s.value = *slots[pick(slots.size())].value;
        break;
    }
  }

  void mutate_bytes(std::string& text) {
    if (text.empty()) return;
    const size_t at = pick(text.size());
    switch (pick(5)) {
      case 0: text.resize(at); break;
      case 1: text[at] = static_cast<char>(text[at] ^ (1 + pick(255))); break;
      case 2: {
        static const char kBytes[] = {'\0', '\xff', '\x80', '"', '{', '[', ']', '}', ',', ':', '\\', '-', '0'};
        text.insert(at, 1, kBytes[pick(sizeof(kBytes))]);
        break;
      }
      case 3: text.erase(at, 1 + pick(16)); break;
      default: text.insert(at, text.substr(at, 1 + pick(32))); break;
    }
  }

  std::mt19937_64 rng_;
  std::vector<std::string> field_names_;
  std::map<std::string, std::vector<json>> known_;  // every value each field has in the bodies
  std::vector<std::string> raw_;
};

}  // namespace rotor::server::test
