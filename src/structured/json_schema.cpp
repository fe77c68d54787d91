// structured/json_schema.cpp — the converter: one rule per object / array schema (shared by
// equal schemas and by $ref), per object's first member and the members after each property,
// per property value an object writes in two places (shared by equal schemas) and per
// object's additional member; strings, numbers and literals otherwise inline.
#include "structured/json_schema.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/check.h"
#include "structured/json_number.h"
#include "structured/json_schema_merge.h"
#include "structured/json_string.h"

namespace rotor::structured {
namespace {

const std::set<std::string> kObjectKeys = {"properties", "required", "additionalProperties", "minProperties",
                                           "maxProperties", "unevaluatedProperties"};
const std::set<std::string> kArrayKeys = {"items", "prefixItems", "minItems", "maxItems", "additionalItems",
                                          "uniqueItems"};
const std::set<std::string> kStringKeys = {"minLength", "maxLength", "pattern", "format"};
const std::set<std::string> kNumberKeys = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"};
const std::set<std::string> kUnsupported = {"not", "if", "then", "else", "dependentRequired", "dependentSchemas",
                                            "dependencies", "patternProperties", "propertyNames", "contains",
                                            "minContains", "maxContains", "unevaluatedItems", "$dynamicRef",
                                            "$recursiveRef"};
constexpr int kMaxDepth = 64;

class Converter {
 public:
  Grammar take() { return std::move(g_); }

  // A whole schema document (refs resolve inside it) as an expression.
  Expr document(const Json& doc, const std::string& name) {
    doc_ = &doc;
    doc_name_ = name;
    return visit(doc, "#", 0);
  }

  Expr any_value() {
    if (value_rule_ < 0) {
      value_rule_ = g_.add_rule("value", empty());
      const Expr v = ref(value_rule_);
      const int obj = g_.add_rule("object", seq({lit("{"), ws(), opt(seq({member(json_string(0, -1), v),
                                                                             star(seq({sep(","), member(json_string(0, -1), v)}))})),
                                                 ws(), lit("}")}));
      const int arr = g_.add_rule("array", seq({lit("["), ws(), opt(seq({v, star(seq({sep(","), v}))})), ws(), lit("]")}));
      g_.rules[static_cast<size_t>(value_rule_)].body =
          alt({ref(obj), ref(arr), json_string(0, -1), number_range({}, {}), lit("true"), lit("false"), lit("null")});
      object_rule_ = obj;
    }
    return ref(value_rule_);
  }
  Expr any_object() {
    any_value();
    return ref(object_rule_);
  }

 private:
  static Expr ws() {
    return opt(alt({lit(" "), seq({lit("\n"), repeat(chars({{' ', ' '}, {'\t', '\t'}}), 0, 20)})}));
  }
  static Expr sep(std::string_view c) { return seq({ws(), lit(c), ws()}); }
  static Expr member(Expr key, Expr value) { return seq({std::move(key), sep(":"), std::move(value)}); }
  static std::string rule_name(const std::string& path) {
    std::string n;
    for (char c : path) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
    return n.empty() ? "schema" : n;
  }

  Expr visit(const Json& s, const std::string& path, int depth) {
    ROTOR_CHECK(depth < kMaxDepth, "JSON schema at {}: nested too deeply (or a $ref cycle through allOf)", path);
    if (s.is_boolean()) {
      ROTOR_CHECK(s.get<bool>(), "JSON schema at {}: the schema 'false' allows no value", path);
      return any_value();
    }
    ROTOR_CHECK(s.is_object(), "JSON schema at {}: a schema must be an object or a boolean", path);
    for (auto it = s.begin(); it != s.end(); ++it)
      ROTOR_CHECK(!kUnsupported.count(it.key()), "JSON schema at {}: '{}' is not supported", path, it.key());
    if (s.contains("nullable") && s["nullable"] == true) {
      Json rest = s;
      rest.erase("nullable");
      return alt({visit(rest, path, depth + 1), lit("null")});
    }
    if (s.contains("$ref")) return visit_ref(s, path, depth);
    if (s.contains("allOf")) {
      Json merged = s;
      merged.erase("allOf");
      ROTOR_CHECK(s["allOf"].is_array(), "JSON schema at {}/allOf: not an array", path);
      for (size_t i = 0; i < s["allOf"].size(); ++i)
        merged = merge_schemas(merged, deref(s["allOf"][i], path + "/allOf"), path + "/allOf/" + std::to_string(i));
      return visit(merged, path, depth + 1);
    }
    for (const char* k : {"anyOf", "oneOf"})
      if (s.contains(k)) return visit_branches(s, k, path, depth);
    if (s.contains("const")) return lit(s["const"].dump());
    if (s.contains("enum")) {
      ROTOR_CHECK(s["enum"].is_array() && !s["enum"].empty(), "JSON schema at {}/enum: not a non-empty array", path);
      std::vector<Expr> opts;
      for (const Json& v : s["enum"])
        if (!s.contains("type") || type_allows(schema_strings(s["type"], path + "/type"), v))
          opts.push_back(lit(v.dump()));
      ROTOR_CHECK(!opts.empty(), "JSON schema at {}: no enum value has the schema's type", path);
      return alt(std::move(opts));
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      types = schema_strings(s["type"], path + "/type");
    } else {
      // No type: the types whose keywords appear (none: any value).
      auto has = [&](const std::set<std::string>& keys) {
        return std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return s.contains(k); });
      };
      if (has(kObjectKeys)) types.push_back("object");
      if (has(kArrayKeys)) types.push_back("array");
      if (has(kStringKeys)) types.push_back("string");
      if (has(kNumberKeys)) types.push_back("number");
      if (types.empty()) return any_value();
    }
    std::vector<Expr> opts;
    for (const std::string& t : types) opts.push_back(visit_type(t, s, path, depth));
    return alt(std::move(opts));
  }

  static bool type_allows(const std::vector<std::string>& types, const Json& v) {
    for (const std::string& t : types) {
      if ((t == "string" && v.is_string()) || (t == "object" && v.is_object()) || (t == "array" && v.is_array()) ||
          (t == "boolean" && v.is_boolean()) || (t == "null" && v.is_null()) || (t == "number" && v.is_number()) ||
          (t == "integer" && (v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>()))))))
        return true;
    }
    return false;
  }

  // The schema a $ref names inside the document ("#", "#/$defs/x", "#/definitions/x", any pointer).
  const Json& resolve(const std::string& r, const std::string& path) const {
    ROTOR_CHECK(r.rfind("#", 0) == 0, "JSON schema at {}: only references inside the schema are supported, got '{}'",
                path, r);
    try {
      const std::string pointer = r.substr(1);
      return pointer.empty() ? *doc_ : doc_->at(Json::json_pointer(pointer));
    } catch (const std::exception&) {
      ROTOR_FAIL("JSON schema at {}: the reference '{}' names nothing in the schema", path, r);
    }
  }
  const Json& deref(const Json& s, const std::string& path) const {
    return s.is_object() && s.contains("$ref") && s.size() == 1 ? resolve(schema_string(s["$ref"], path + "/$ref"), path)
                                                                : s;
  }

  Expr visit_ref(const Json& s, const std::string& path, int depth) {
    const std::string r = schema_string(s["$ref"], path + "/$ref");
    bool siblings = false;
    for (auto it = s.begin(); it != s.end(); ++it) siblings |= it.key() != "$ref" && !is_annotation(it.key());
    if (siblings) {
      Json rest = s;
      rest.erase("$ref");
      return visit(merge_schemas(resolve(r, path), rest, path), path, depth + 1);
    }
    const std::string key = doc_name_ + r;
    if (auto it = refs_.find(key); it != refs_.end()) return ref(it->second);
    const int id = g_.add_rule(rule_name(doc_name_ + "-ref" + r.substr(1)), empty());
    refs_[key] = id;
    Expr body = visit(resolve(r, path), r, depth + 1);
    g_.rules[static_cast<size_t>(id)].body = std::move(body);
    return ref(id);
  }

  Expr visit_branches(const Json& s, const char* key, const std::string& path, int depth) {
    const Json& branches = s[key];
    ROTOR_CHECK(branches.is_array() && !branches.empty(), "JSON schema at {}/{}: not a non-empty array", path, key);
    Json base = s;
    base.erase(key);
    bool constrained = false;
    for (auto it = base.begin(); it != base.end(); ++it) constrained |= !is_annotation(it.key());
    std::vector<Expr> opts;
    std::vector<Json> merged;
    for (size_t i = 0; i < branches.size(); ++i) {
      const std::string p = path + "/" + key + "/" + std::to_string(i);
      merged.push_back(constrained ? merge_schemas(base, deref(branches[i], p), p) : branches[i]);
      opts.push_back(visit(merged.back(), p, depth + 1));
    }
    if (std::string(key) == "oneOf") check_disjoint(merged, path);
    return alt(std::move(opts));
  }

  // oneOf needs exactly one branch to match: accepted when the branches' types cannot overlap.
  void check_disjoint(const std::vector<Json>& branches, const std::string& path) const {
    std::vector<std::set<std::string>> types;
    for (const Json& b0 : branches) {
      const Json& b = deref(b0, path);
      std::set<std::string> t;
      if (b.is_object() && b.contains("type")) {
        for (const std::string& x : schema_strings(b["type"], path + "/oneOf")) t.insert(x);
      } else if (b.is_object() && b.contains("const")) {
        t.insert(b["const"].is_number_integer() ? "integer" : std::string(b["const"].type_name()));
      }
      ROTOR_CHECK(!t.empty(), "JSON schema at {}/oneOf: branches without a 'type' may overlap (not supported)", path);
      if (t.count("number")) t.insert("integer");
      if (t.count("integer")) t.insert("number");
      types.push_back(t);
    }
    for (size_t i = 0; i < types.size(); ++i)
      for (size_t j = i + 1; j < types.size(); ++j)
        for (const std::string& t : types[i])
          ROTOR_CHECK(!types[j].count(t), "JSON schema at {}/oneOf: branches {} and {} may both match (type '{}'); "
                                          "only oneOf of different types is supported", path, i, j, t);
  }

  Expr visit_type(const std::string& t, const Json& s, const std::string& path, int depth) {
    if (t == "string") return string_schema(s, path);
    if (t == "integer" || t == "number") return number_schema(s, path, t == "integer");
    if (t == "boolean") return alt({lit("true"), lit("false")});
    if (t == "null") return lit("null");
    if (t == "object" || t == "array") {
      const std::string key = doc_name_ + "|" + t + "|" + s.dump();
      if (auto it = shared_.find(key); it != shared_.end()) return ref(it->second);
      const int id = g_.add_rule(rule_name(doc_name_ + path.substr(1)), empty());
      shared_[key] = id;
      Expr body = t == "object" ? object_schema(s, path, depth) : array_schema(s, path, depth);
      g_.rules[static_cast<size_t>(id)].body = std::move(body);
      return ref(id);
    }
    ROTOR_FAIL("JSON schema at {}/type: unknown type '{}'", path, t);
  }

  // `value`, the expression of `schema`, as a reference: itself if it is one, else a rule of
  // its own, shared by every equal schema of the document.
  Expr shared_rule(Expr value, const Json& schema, const std::string& path) {
    if (value.kind == Expr::Kind::RuleRef) return value;
    const std::string key = doc_name_ + "|value|" + schema.dump();
    if (auto it = shared_.find(key); it != shared_.end()) return ref(it->second);
    const int id = g_.add_rule(rule_name(doc_name_ + path.substr(1)), std::move(value));
    shared_[key] = id;
    return ref(id);
  }

  static int count(const Json& s, const char* k, int fallback) {
    if (!s.contains(k)) return fallback;
    ROTOR_CHECK(s[k].is_number() && s[k].get<double>() >= 0 && s[k].get<double>() <= 100000,
                "JSON schema: '{}' must be a number in [0, 100000]", k);
    return static_cast<int>(s[k].get<double>());
  }

  Expr string_schema(const Json& s, const std::string& path) {
    const int lo = count(s, "minLength", 0), hi = count(s, "maxLength", -1);
    ROTOR_CHECK(hi < 0 || lo <= hi, "JSON schema at {}: minLength above maxLength", path);
    if (s.contains("pattern")) {
      ROTOR_CHECK(!s.contains("minLength") && !s.contains("maxLength"),
                  "JSON schema at {}: 'pattern' with 'minLength' / 'maxLength' is not supported", path);
      return json_string_pattern(schema_string(s["pattern"], path + "/pattern"));
    }
    // A known format without length bounds; otherwise the format is an annotation.
    if (s.contains("format") && !s.contains("minLength") && !s.contains("maxLength"))
      if (std::optional<Expr> f = json_string_format(schema_string(s["format"], path + "/format"))) return *f;
    return json_string(lo, hi);
  }

  Expr number_schema(const Json& s, const std::string& path, bool integer) {
    if (s.contains("multipleOf")) {
      ROTOR_CHECK(s["multipleOf"].is_number() && s["multipleOf"].get<double>() == 1.0,
                  "JSON schema at {}: 'multipleOf' other than 1 is not supported", path);
      integer = true;
    }
    std::optional<NumberBound> lo, hi;
    auto bound = [&](const char* k, bool exclusive, std::optional<NumberBound>& b, bool lower) {
      if (!s.contains(k)) return;
      const Json& v = s[k];
      if (v.is_boolean()) return;  // draft 4's exclusiveMinimum: true modifies minimum (below)
      ROTOR_CHECK(v.is_number(), "JSON schema at {}/{}: not a number", path, k);
      NumberBound nb{v.dump(), exclusive};
      const double x = v.get<double>();
      // Keep the stricter of minimum and exclusiveMinimum (likewise for the maximum).
      if (!b || (lower ? x > b->number() || (x == b->number() && exclusive)
                       : x < b->number() || (x == b->number() && exclusive)))
        b = nb;
    };
    bound("minimum", s.contains("exclusiveMinimum") && s["exclusiveMinimum"] == true, lo, true);
    bound("exclusiveMinimum", true, lo, true);
    bound("maximum", s.contains("exclusiveMaximum") && s["exclusiveMaximum"] == true, hi, false);
    bound("exclusiveMaximum", true, hi, false);
    try {
      return integer ? integer_range(lo, hi) : number_range(lo, hi);
    } catch (const Error& e) {
      ROTOR_FAIL("JSON schema at {}: {}", path, e.what());
    }
  }

  Expr object_schema(const Json& s, const std::string& path, int depth) {
    const Json props = s.contains("properties") ? s["properties"] : Json::object();
    ROTOR_CHECK(props.is_object(), "JSON schema at {}/properties: not an object", path);
    std::set<std::string> required;
    if (s.contains("required"))
      for (const std::string& r : schema_strings(s["required"], path + "/required")) required.insert(r);
    // additionalProperties: absent or false = none; true = any value; a schema = that.
    std::optional<Json> extra;
    if (s.contains("additionalProperties") && s["additionalProperties"] != false) extra = s["additionalProperties"];
    if (s.contains("unevaluatedProperties") && s["unevaluatedProperties"] != false)
      ROTOR_CHECK(false, "JSON schema at {}: 'unevaluatedProperties' other than false is not supported", path);
    struct Prop {
      std::string name;
      bool required;
      Expr value;
      const Json* schema;  // of the value
    };
    std::vector<Prop> list;
    for (auto it = props.begin(); it != props.end(); ++it)
      list.push_back({it.key(), required.count(it.key()) > 0,
                      visit(it.value(), path + "/properties/" + it.key(), depth + 1), &it.value()});
    const Json any = true;
    for (const std::string& r : required)
      if (!props.contains(r))
        list.push_back({r, true, extra ? visit(*extra, path + "/additionalProperties", depth + 1) : any_value(),
                        extra ? &*extra : &any});
    const int n_required = static_cast<int>(required.size()), n_all = static_cast<int>(list.size());
    if (s.contains("minProperties"))
      ROTOR_CHECK(count(s, "minProperties", 0) <= n_required,
                  "JSON schema at {}: 'minProperties' above the number of required properties is not supported", path);
    if (s.contains("maxProperties"))
      ROTOR_CHECK(!extra && count(s, "maxProperties", 0) >= n_all,
                  "JSON schema at {}: 'maxProperties' below the number of possible properties is not supported", path);
    std::optional<Expr> extra_member;
    if (extra) {
      std::vector<std::string> names;
      for (const Prop& p : list) names.push_back(p.name);
      // A rule: written first, after the properties and after each other one.
      extra_member = ref(g_.add_rule(rule_name(doc_name_ + path.substr(1)) + "-additional",
                                     member(key_not_in(names, path), visit(*extra, path + "/additionalProperties", depth + 1))));
    }
    // Property i is written both as the first member and after a comma when 0 < i and no
    // property before it is required: its value is then a rule of its own (one per distinct
    // schema), so the two places share one automaton instead of each having a copy (a long
    // const there took twice its length in states). Other values stay inline: no call.
    const int first_required = static_cast<int>(
        std::find_if(list.begin(), list.end(), [](const Prop& p) { return p.required; }) - list.begin());
    for (int i = 1; i <= std::min(first_required, n_all - 1); ++i) {
      Prop& p = list[static_cast<size_t>(i)];
      p.value = shared_rule(p.value, *p.schema, path + "/properties/" + p.name);
    }
    // rest[i], i >= 1: members i.. after at least one was written (a rule each: shared by the
    // alternatives below, called in tail position); first: nothing written yet.
    const std::string base = rule_name(doc_name_ + path.substr(1));
    Expr rest = extra_member ? star(seq({sep(","), *extra_member})) : empty();
    std::vector<Expr> rest_at(static_cast<size_t>(n_all) + 1);
    rest_at[static_cast<size_t>(n_all)] = rest;
    for (int i = n_all - 1; i >= 1; --i) {
      Prop& p = list[static_cast<size_t>(i)];
      Expr kv = member(lit(Json(p.name).dump()), p.value);
      Expr body = seq({p.required ? seq({sep(","), kv}) : opt(seq({sep(","), kv})), rest_at[static_cast<size_t>(i) + 1]});
      rest_at[static_cast<size_t>(i)] = ref(g_.add_rule(base + "-rest", std::move(body)));
    }
    // The first member written: property i (then rest_at[i + 1]) for an i up to the first
    // required one, or else an extra member or nothing. Gathered last first into one list
    // (alt({with, first}) at each step copied the alternatives so far: quadratic). A rule of
    // its own, so that each alternative's rest is a tail call: over one return frame, a
    // shared value's callers reach each rest once (inline, a frame per alternative made the
    // closure after a value quadratic in the properties).
    std::vector<Expr> firsts{extra_member ? opt(seq({*extra_member, rest})) : empty()};
    for (int i = n_all - 1; i >= 0; --i) {
      const Prop& p = list[static_cast<size_t>(i)];
      if (p.required) firsts.clear();
      firsts.push_back(seq({member(lit(Json(p.name).dump()), p.value), rest_at[static_cast<size_t>(i) + 1]}));
    }
    std::reverse(firsts.begin(), firsts.end());
    const Expr members = ref(g_.add_rule(base + "-members", alt(std::move(firsts))));
    return seq({lit("{"), ws(), members, ws(), lit("}")});
  }

  // A key (with its quotes) other than the given names: a trie of the names where leaving
  // the trie is allowed anywhere and ending is allowed off the names' ends. No escapes (an
  // escape could spell a name).
  Expr key_not_in(const std::vector<std::string>& names, const std::string& path) {
    for (const std::string& n : names)
      for (unsigned char c : n)
        ROTOR_CHECK(c >= 0x20 && c < 0x80 && c != '"' && c != '\\',
                    "JSON schema at {}: additional properties beside a non-ASCII property name are not supported", path);
    const Expr plain = chars({{'"', '"'}, {'\\', '\\'}, {0, 0x1F}}, true);
    const Expr tail = seq({star(plain), lit("\"")});
    std::function<Expr(const std::string&)> node = [&](const std::string& prefix) {
      std::set<char> next;
      bool is_name = false;
      for (const std::string& n : names)
        if (n.rfind(prefix, 0) == 0) {
          if (n.size() == prefix.size()) is_name = true;
          else next.insert(n[prefix.size()]);
        }
      std::vector<Expr> opts;
      std::vector<Range> off{{'"', '"'}, {'\\', '\\'}, {0, 0x1F}};
      for (char c : next) {
        opts.push_back(seq({lit(std::string(1, c)), node(prefix + c)}));
        off.push_back({static_cast<uint32_t>(c), static_cast<uint32_t>(c)});
      }
      opts.push_back(seq({chars(off, true), tail}));
      if (!is_name) opts.push_back(lit("\""));
      return alt(std::move(opts));
    };
    return seq({lit("\""), node("")});
  }

  Expr array_schema(const Json& s, const std::string& path, int depth) {
    ROTOR_CHECK(!(s.contains("uniqueItems") && s["uniqueItems"] == true && count(s, "maxItems", 2) > 1),
                "JSON schema at {}: 'uniqueItems' is not supported", path);
    std::vector<Expr> prefix;
    std::optional<Json> items;
    const Json* tuple = s.contains("prefixItems") ? &s["prefixItems"]
                        : s.contains("items") && s["items"].is_array() ? &s["items"] : nullptr;
    if (tuple) {
      ROTOR_CHECK(tuple->is_array(), "JSON schema at {}/prefixItems: not an array", path);
      for (size_t i = 0; i < tuple->size(); ++i) prefix.push_back(visit((*tuple)[i], path + "/prefixItems/" + std::to_string(i), depth + 1));
      const char* more = s.contains("prefixItems") ? "items" : "additionalItems";
      if (s.contains(more) && s[more] != false) items = s[more];
    } else {
      items = s.contains("items") ? s["items"] : Json(true);
    }
    const int n = static_cast<int>(prefix.size());
    const int lo = std::max(count(s, "minItems", 0) - n, 0), hi_all = count(s, "maxItems", -1);
    ROTOR_CHECK(hi_all < 0 || hi_all >= n, "JSON schema at {}: maxItems below the number of prefixItems", path);
    ROTOR_CHECK(items || lo == 0, "JSON schema at {}: minItems above the number of prefixItems", path);
    const int hi = hi_all < 0 ? -1 : hi_all - n;
    ROTOR_CHECK(hi < 0 || lo <= hi, "JSON schema at {}: minItems above maxItems", path);
    std::vector<Expr> elems = prefix;
    Expr body;
    if (items && hi != 0) {
      const Expr item = visit(*items, path + "/items", depth + 1);
      Expr more;
      if (n > 0) {
        more = repeat(seq({sep(","), item}), lo, hi);
      } else if (lo > 0) {
        more = seq({item, repeat(seq({sep(","), item}), lo - 1, hi < 0 ? -1 : hi - 1)});
      } else {
        more = opt(seq({item, repeat(seq({sep(","), item}), 0, hi < 0 ? -1 : hi - 1)}));
      }
      std::vector<Expr> parts;
      for (int i = 0; i < n; ++i) {
        if (i) parts.push_back(sep(","));
        parts.push_back(prefix[static_cast<size_t>(i)]);
      }
      parts.push_back(std::move(more));
      body = seq(std::move(parts));
    } else {
      std::vector<Expr> parts;
      for (int i = 0; i < n; ++i) {
        if (i) parts.push_back(sep(","));
        parts.push_back(prefix[static_cast<size_t>(i)]);
      }
      body = seq(std::move(parts));
    }
    return seq({lit("["), ws(), std::move(body), ws(), lit("]")});
  }

  Grammar g_;
  const Json* doc_ = nullptr;
  std::string doc_name_;
  std::map<std::string, int> refs_, shared_;
  int value_rule_ = -1, object_rule_ = -1;
};

// Schema text nests at most this deep. A deeper document is refused as it is read, never built:
// nlohmann copies and prints values recursively (and visits stop at kMaxDepth schemas anyway).
constexpr int kMaxJsonDepth = 256;

Json parse_schema(std::string_view text, const std::string& what) {
  bool too_deep = false;
  Json doc;
  try {
    doc = Json::parse(text, [&](int depth, Json::parse_event_t, Json&) {
      too_deep = too_deep || depth >= kMaxJsonDepth;
      return !too_deep;
    });
  } catch (const std::exception& e) {
    ROTOR_FAIL("{} is not valid JSON: {}", what, e.what());
  }
  ROTOR_CHECK(!too_deep, "{} is nested deeper than {} levels", what, kMaxJsonDepth);
  return doc;
}

}  // namespace

Grammar json_schema_grammar(std::string_view schema_json) {
  const Json doc = parse_schema(schema_json, "the JSON schema");
  Converter c;
  Expr root = c.document(doc, "");
  Grammar g = c.take();
  g.root = g.add_rule("root", std::move(root));
  return g;
}

Grammar json_object_grammar() {
  Converter c;
  Expr root = c.any_object();
  Grammar g = c.take();
  g.root = g.add_rule("root", std::move(root));
  return g;
}

Grammar tool_calls_grammar(const std::vector<ToolSpec>& tools, bool several) {
  ROTOR_CHECK(!tools.empty(), "tool calls: no tools to call");
  Converter c;
  std::vector<Json> docs;
  docs.reserve(tools.size());
  std::vector<Expr> calls;
  for (size_t i = 0; i < tools.size(); ++i) {
    const ToolSpec& t = tools[i];
    Expr args;
    if (t.parameters.empty()) {
      args = c.any_object();
    } else {
      docs.push_back(parse_schema(t.parameters, "the parameters of tool '" + t.name + "'"));
      try {
        args = c.document(docs.back(), "tool" + std::to_string(i));
      } catch (const Error& e) {
        ROTOR_FAIL("tool '{}': {}", t.name, e.what());
      }
    }
    calls.push_back(seq({lit("<tool_call>\n{\"name\": " + Json(t.name).dump() + ", \"arguments\": "), std::move(args),
                         lit("}\n</tool_call>")}));
  }
  Grammar g = c.take();
  const int call = g.add_rule("tool-call", alt(std::move(calls)));
  g.root = g.add_rule("root", several ? seq({ref(call), star(seq({lit("\n"), ref(call)}))}) : ref(call));
  return g;
}

}  // namespace rotor::structured
