// server/misc_endpoints.cpp — GET /v1/models, POST /tokenize, POST /detokenize (vLLM's
// shapes).
#include <httplib.h>

#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/json_fields.h"
#include "server/request_common.h"
#include "server/responses.h"
#include "server/server.h"

namespace rotor::server {

void list_models(Server& s, const httplib::Request&, httplib::Response& res) {
  json data = json::array();
  const int64_t created = unix_seconds();
  for (const std::string& name : s.options().model_names)
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", created},
                    {"owned_by", "rotor"},
                    {"root", s.options().model_root},
                    {"parent", nullptr},
                    {"max_model_len", s.engine().limits().max_model_len},
                    {"permission", json::array()}});
  res.set_content(dump_json({{"object", "list"}, {"data", std::move(data)}}), "application/json");
}

void tokenize(Server& s, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  s.check_model(opt_string(body, "model"));
  std::vector<int32_t> ids;
  if (find_field(body, "messages")) {
    ids = s.tokenizer().encode(render_chat_prompt(s, parse_chat_request(body, s.options().sampling_defaults, s.limits())));
  } else {
    const auto prompt = opt_string(body, "prompt");
    if (!prompt) bad_request("give 'prompt' (a string) or 'messages'", "prompt");
    ids = s.tokenizer().encode(*prompt);
  }
  json out = {{"count", ids.size()}, {"max_model_len", s.engine().limits().max_model_len}, {"tokens", ids}};
  if (opt_bool(body, "return_token_strs").value_or(false)) {
    json strs = json::array();
    for (int32_t id : ids) strs.push_back(s.tokenizer().id_to_token(id));
    out["token_strs"] = std::move(strs);
  } else {
    out["token_strs"] = nullptr;
  }
  res.set_content(dump_json(out), "application/json");
}

void detokenize(Server& s, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  s.check_model(opt_string(body, "model"));
  const json* tokens = find_field(body, "tokens");
  if (!tokens) bad_request("'tokens' is required", "tokens");
  const std::vector<int32_t> ids = parse_token_ids(*tokens, "tokens", s.limits());
  res.set_content(dump_json({{"prompt", s.tokenizer().decode(ids, false)}}), "application/json");
}

}  // namespace rotor::server
