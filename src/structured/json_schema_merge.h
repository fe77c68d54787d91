// structured/json_schema_merge.h — two JSON schemas as one (allOf, and the keywords beside an
// anyOf / oneOf / $ref applied to each branch): the instances valid under both, for the
// keywords that combine simply (types intersect, required lists unite, properties merge,
// bounds take the stricter side, equal values stay); anything else raises rotor::Error.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace rotor::structured {

using Json = nlohmann::ordered_json;

Json merge_schemas(const Json& a, const Json& b, const std::string& path);

// Keywords that only annotate (never constrain) a schema.
bool is_annotation(const std::string& keyword);

}  // namespace rotor::structured
