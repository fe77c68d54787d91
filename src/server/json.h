// server/json.h — the JSON type of the server: key order kept as sent and as built (tools
// reach the chat template in the client's order; responses list fields in OpenAI's order).
#pragma once
#include <nlohmann/json.hpp>

namespace rotor::server {

using json = nlohmann::ordered_json;

// Serialises with invalid UTF-8 replaced (U+FFFD) instead of throwing.
inline std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace rotor::server
