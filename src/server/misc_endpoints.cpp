// server/misc_endpoints.cpp — GET /v1/models, POST /tokenize, POST /detokenize (vLLM's
// shapes). /tokenize answers at most max_model_len tokens (a 400 giving the count past it).
#include <fmt/format.h>

#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/json_fields.h"
#include "server/request_common.h"
#include "server/responses.h"
#include "server/server.h"

namespace rotor::server {
namespace {

Reply json_ok(const json& body) {
  Reply r;
  r.body = dump_json(body);
  return r;
}

}  // namespace

Reply list_models(Server& s, const HttpRequest&) {
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
  return json_ok({{"object", "list"}, {"data", std::move(data)}});
}

Reply tokenize(Server& s, const HttpRequest& req) {
  const json body = parse_body(req.body);
  s.check_model(opt_string(body, "model"));
  std::vector<int32_t> ids;
  const char* field = "prompt";
  if (find_field(body, "messages")) {
    field = "messages";
    ids = s.tokenizer().encode(render_chat_prompt(s, parse_chat_request(body, s.options().sampling_defaults, s.limits())));
  } else {
    const auto prompt = opt_string(body, "prompt");
    if (!prompt) bad_request("give 'prompt' (a string) or 'messages'", "prompt");
    ids = s.tokenizer().encode(*prompt);
  }
  const int max_len = s.engine().limits().max_model_len;
  if (static_cast<int64_t>(ids.size()) > max_len)
    bad_request(fmt::format("the text has {} tokens, more than this model's maximum context length of {} "
                            "(/tokenize answers at most that many)",
                            ids.size(), max_len),
                field);
  json out = {{"count", ids.size()}, {"max_model_len", max_len}, {"tokens", ids}};
  if (opt_bool(body, "return_token_strs").value_or(false)) {
    json strs = json::array();
    for (int32_t id : ids) strs.push_back(s.tokenizer().id_to_token(id));
    out["token_strs"] = std::move(strs);
  } else {
    out["token_strs"] = nullptr;
  }
  return json_ok(out);
}

Reply detokenize(Server& s, const HttpRequest& req) {
  const json body = parse_body(req.body);
  s.check_model(opt_string(body, "model"));
  const json* tokens = find_field(body, "tokens");
  if (!tokens) bad_request("'tokens' is required", "tokens");
  const std::vector<int32_t> ids = parse_token_ids(*tokens, "tokens", s.limits());
  return json_ok({{"prompt", s.tokenizer().decode(ids, false)}});
}

}  // namespace rotor::server
