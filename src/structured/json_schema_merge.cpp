// structured/json_schema_merge.cpp — allOf-style merging of schema objects.
#include "structured/json_schema_merge.h"

#include <algorithm>
#include <set>

#include "core/check.h"

namespace rotor::structured {

const std::string& schema_string(const Json& v, const std::string& where) {
  ROTOR_CHECK(v.is_string(), "JSON schema at {}: not a string", where);
  return v.get_ref<const std::string&>();
}

std::vector<std::string> schema_strings(const Json& v, const std::string& where) {
  if (v.is_string()) return {v.get<std::string>()};
  ROTOR_CHECK(v.is_array(), "JSON schema at {}: not a string or a list of strings", where);
  std::vector<std::string> out;
  for (const Json& x : v) {
    ROTOR_CHECK(x.is_string(), "JSON schema at {}: not a string or a list of strings", where);
    out.push_back(x.get<std::string>());
  }
  return out;
}

bool is_annotation(const std::string& k) {
  static const std::set<std::string> kAnnotations = {
      "title", "description", "examples", "default", "$comment", "$schema", "$id", "$anchor", "$dynamicAnchor",
      "$recursiveAnchor", "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding",
      "contentSchema", "$defs", "definitions", "discriminator", "$vocabulary", "externalDocs", "example"};
  return kAnnotations.count(k) > 0 || k.rfind("x-", 0) == 0;
}

Json merge_schemas(const Json& a, const Json& b, const std::string& path) {
  if (a.is_boolean() && a.get<bool>()) return b;
  if (b.is_boolean() && b.get<bool>()) return a;
  ROTOR_CHECK(a.is_object() && b.is_object(), "JSON schema at {}: cannot combine a false schema", path);
  Json out = a;
  for (auto it = b.begin(); it != b.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (!out.contains(k) || out[k] == v || is_annotation(k)) {
      if (!out.contains(k)) out[k] = v;
      continue;
    }
    Json& o = out[k];
    if (k == "type") {
      std::vector<std::string> both;
      for (const std::string& x : schema_strings(o, path + "/type"))
        for (const std::string& y : schema_strings(v, path + "/type")) {
          if (x == y) both.push_back(x);
          else if ((x == "integer" && y == "number") || (x == "number" && y == "integer")) both.push_back("integer");
        }
      ROTOR_CHECK(!both.empty(), "JSON schema at {}: combined schemas allow no common type", path);
      o = both.size() == 1 ? Json(both[0]) : Json(both);
    } else if (k == "required") {
      std::vector<std::string> both = schema_strings(o, path + "/required");
      for (const std::string& r : schema_strings(v, path + "/required"))
        if (std::find(both.begin(), both.end(), r) == both.end()) both.push_back(r);
      o = both;
    } else if (k == "properties") {
      ROTOR_CHECK(o.is_object() && v.is_object(), "JSON schema at {}/properties: not an object", path);
      for (auto p = v.begin(); p != v.end(); ++p)
        o[p.key()] = o.contains(p.key()) ? merge_schemas(o[p.key()], p.value(), path + "/properties/" + p.key())
                                         : p.value();
    } else if ((k == "minimum" || k == "minLength" || k == "minItems" || k == "exclusiveMinimum") && v.is_number() &&
               o.is_number()) {
      o = std::max(o.get<double>(), v.get<double>());
    } else if ((k == "maximum" || k == "maxLength" || k == "maxItems" || k == "exclusiveMaximum") && v.is_number() &&
               o.is_number()) {
      o = std::min(o.get<double>(), v.get<double>());
    } else if (k == "enum") {
      Json both = Json::array();
      for (const Json& x : o)
        if (std::find(v.begin(), v.end(), x) != v.end()) both.push_back(x);
      ROTOR_CHECK(!both.empty(), "JSON schema at {}: combined enums have no common value", path);
      o = both;
    } else if (k == "additionalProperties" || k == "items") {
      o = merge_schemas(o, v, path + "/" + k);
    } else {
      ROTOR_FAIL("JSON schema at {}: cannot combine two different '{}' (allOf / a $ref or anyOf with sibling keywords)",
                 path, k);
    }
  }
  return out;
}

}  // namespace rotor::structured
