// server/parse_structured.cpp — the structured-output fields of a request as vLLM 0.11 takes
// them: response_format {type: text | json_object | json_schema (json_schema.schema)},
// guided_json (a schema object or its text), guided_regex, guided_choice, guided_grammar
// (EBNF), and structured_outputs {json, regex, choice, grammar, json_object}. The grammar
// itself is built and checked later (GrammarCache), which names what it cannot handle.
#include <fmt/format.h>

#include "server/api_error.h"
#include "server/request_common.h"

namespace rotor::server {
namespace {

using Kind = StructuredSpec::Kind;

std::string schema_text(const json& v, const std::string& field) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() || v.is_boolean()) return v.dump();
  bad_request(fmt::format("'{}' must be a JSON schema (an object or its text)", field), field);
}

std::string text_of(const json& v, const std::string& field) {
  if (!v.is_string() || v.get_ref<const std::string&>().empty())
    bad_request(fmt::format("'{}' must be a non-empty string", field), field);
  return v.get<std::string>();
}

std::vector<std::string> choices_of(const json& v, const std::string& field) {
  if (!v.is_array() || v.empty()) bad_request(fmt::format("'{}' must be a non-empty list of strings", field), field);
  std::vector<std::string> out;
  for (const json& c : v) {
    if (!c.is_string() || c.get_ref<const std::string&>().empty())
      bad_request(fmt::format("'{}' must be a non-empty list of non-empty strings", field), field);
    out.push_back(c.get<std::string>());
  }
  return out;
}

// The constraints found, each with its field; more than one is a 400.
void add(std::vector<StructuredSpec>& found, Kind kind, std::string field, std::string text = {},
         std::vector<std::string> choices = {}) {
  StructuredSpec s;
  s.kind = kind;
  s.field = std::move(field);
  s.text = std::move(text);
  s.choices = std::move(choices);
  found.push_back(std::move(s));
}

}  // namespace

std::string StructuredSpec::key() const {
  std::string k = fmt::format("{}|{}|{}|", static_cast<int>(kind), several, text);
  for (const std::string& c : choices) k += fmt::format("{}:{}", c.size(), c);
  for (const auto& [name, params] : tools) k += fmt::format("|{}:{}|{}:{}", name.size(), name, params.size(), params);
  return k;
}

void check_structured(const GenerationOptions& g) {
  if (g.structured.kind != Kind::None && g.min_tokens > 0)
    bad_request(fmt::format("'min_tokens' cannot be combined with a structured output ('{}')", g.structured.field),
                "min_tokens");
}

StructuredSpec parse_structured(const json& body) {
  std::vector<StructuredSpec> found;
  if (const json* rf = find_field(body, "response_format")) {
    if (!rf->is_object()) bad_request("'response_format' must be an object", "response_format");
    const std::string type = opt_string(*rf, "type").value_or("text");
    if (type == "json_object") {
      add(found, Kind::JsonObject, "response_format");
    } else if (type == "json_schema") {
      const json* js = opt_object(*rf, "json_schema");
      const json* schema = js ? find_field(*js, "schema") : nullptr;
      if (!schema) bad_request("response_format json_schema needs 'json_schema.schema'", "response_format");
      add(found, Kind::JsonSchema, "response_format", schema_text(*schema, "response_format.json_schema.schema"));
    } else if (type != "text") {
      bad_request(
          fmt::format("response_format type {} is not supported (text, json_object or json_schema)", quote_value(type)),
          "response_format");
    }
  }
  if (const json* v = find_field(body, "guided_json")) add(found, Kind::JsonSchema, "guided_json", schema_text(*v, "guided_json"));
  if (const json* v = find_field(body, "guided_regex")) add(found, Kind::Regex, "guided_regex", text_of(*v, "guided_regex"));
  if (const json* v = find_field(body, "guided_choice"))
    add(found, Kind::Choice, "guided_choice", {}, choices_of(*v, "guided_choice"));
  if (const json* v = find_field(body, "guided_grammar"))
    add(found, Kind::Grammar, "guided_grammar", text_of(*v, "guided_grammar"));
  if (const json* so = find_field(body, "structured_outputs")) {
    if (!so->is_object()) bad_request("'structured_outputs' must be an object", "structured_outputs");
    for (auto it = so->begin(); it != so->end(); ++it) {
      const std::string f = "structured_outputs." + it.key();
      const json& v = it.value();
      if (v.is_null()) continue;
      if (it.key() == "json") add(found, Kind::JsonSchema, f, schema_text(v, f));
      else if (it.key() == "regex") add(found, Kind::Regex, f, text_of(v, f));
      else if (it.key() == "choice") add(found, Kind::Choice, f, {}, choices_of(v, f));
      else if (it.key() == "grammar") add(found, Kind::Grammar, f, text_of(v, f));
      else if (it.key() == "json_object") {
        if (v == true) add(found, Kind::JsonObject, f);
      } else if (it.key() == "structural_tag") {
        bad_request("'structured_outputs.structural_tag' is not supported", f);
      } else if (it.key() != "disable_fallback" && it.key() != "disable_any_whitespace" &&
                 it.key() != "disable_additional_properties" && it.key() != "whitespace_pattern") {
        bad_request(fmt::format("'structured_outputs' has no field {}", quote_value(it.key())), "structured_outputs");
      }
    }
  }
  if (found.size() > 1)
    bad_request(fmt::format("only one structured output may be given ('{}' and '{}')", found[0].field, found[1].field),
                found[1].field);
  return found.empty() ? StructuredSpec{} : std::move(found[0]);
}

}  // namespace rotor::server
