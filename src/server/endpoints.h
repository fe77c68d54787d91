// server/endpoints.h — the request handlers, one function per route (registered by
// server.cpp), run on the worker threads (models on the I/O threads). They throw ApiError for
// bad requests; server.cpp turns exceptions into OpenAI error replies. The generation
// endpoints return a Reply whose ReplyStream the connection drives as output arrives.
#pragma once
#include <string>

#include "server/http_types.h"

namespace rotor::server {

class Server;

Reply chat_completions(Server& s, const HttpRequest& req);
Reply completions(Server& s, const HttpRequest& req);
Reply create_response(Server& s, const HttpRequest& req);  // /v1/responses
Reply list_models(Server& s, const HttpRequest& req);
Reply tokenize(Server& s, const HttpRequest& req);
Reply detokenize(Server& s, const HttpRequest& req);

// The prompt of a chat request, rendered by the chat template (400 if rendering fails).
struct ChatRequest;
std::string render_chat_prompt(const Server& s, const ChatRequest& r);

}  // namespace rotor::server
