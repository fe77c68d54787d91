// structured/json_schema_merge.h — two JSON schemas as one (allOf, and the keywords beside an
// anyOf / oneOf / $ref applied to each branch): the instances valid under both, for the
// keywords that combine simply (types intersect, required lists unite, properties merge,
// bounds take the stricter side, equal values stay); anything else raises rotor::Error.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rotor::structured {

using Json = nlohmann::ordered_json;

Json merge_schemas(const Json& a, const Json& b, const std::string& path);

// Keywords that only annotate (never constrain) a schema.
bool is_annotation(const std::string& keyword);

// A keyword's string (a $ref, a pattern, a format), or its string or list of strings (type,
// required); rotor::Error naming `where` (path/keyword) for anything else.
const std::string& schema_string(const Json& v, const std::string& where);
std::vector<std::string> schema_strings(const Json& v, const std::string& where);

}  // namespace rotor::structured
