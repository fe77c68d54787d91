// structured/json_schema.h — JSON schema → grammar (llama.cpp's json-schema-to-grammar and
// XGrammar's converter do the same). Supported: type (one or a list; nullable), properties /
// required / additionalProperties (absent = false, as OpenAI's strict mode and XGrammar's
// strict default: outputs are still valid, they only leave extra keys out), items /
// prefixItems / minItems / maxItems, enum, const, anyOf, oneOf (branches of disjoint types),
// allOf (merged), $ref into the document ($defs, definitions, "#"), minLength / maxLength,
// pattern, the cheap formats (json_string.h; others are annotations and ignored), minimum /
// maximum / exclusive bounds, annotations. Properties come in the schema's order, optional
// ones may be left out. Whitespace between tokens is bounded (a space, or a newline and up
// to 20 spaces or tabs), so a model cannot pad forever.
//
// Anything else that constrains values (not, if/then/else, patternProperties, uniqueItems,
// multipleOf, contains, ...) raises rotor::Error naming the keyword and where it is: the
// server answers 400 with that message.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "structured/grammar.h"

namespace rotor::structured {

Grammar json_schema_grammar(std::string_view schema_json);
// Any JSON object (response_format json_object).
Grammar json_object_grammar();

// Qwen3 tool calls: <tool_call>\n{"name": "NAME", "arguments": ARGS}\n</tool_call>, one
// (several: one or more, separated by a newline) of the given functions with arguments
// valid for its parameters schema (JSON text; "" = any object).
struct ToolSpec {
  std::string name;
  std::string parameters;
};
Grammar tool_calls_grammar(const std::vector<ToolSpec>& tools, bool several);

}  // namespace rotor::structured
