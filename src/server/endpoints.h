// server/endpoints.h — the request handlers, one function per route (registered by
// server.cpp). They throw ApiError for bad requests; server.cpp turns exceptions into
// OpenAI error bodies.
#pragma once
#include <string>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace rotor::server {

class Server;

void chat_completions(Server& s, const httplib::Request& req, httplib::Response& res);
void completions(Server& s, const httplib::Request& req, httplib::Response& res);
void list_models(Server& s, const httplib::Request& req, httplib::Response& res);
void tokenize(Server& s, const httplib::Request& req, httplib::Response& res);
void detokenize(Server& s, const httplib::Request& req, httplib::Response& res);

// The prompt of a chat request, rendered by the chat template (400 if rendering fails).
struct ChatRequest;
std::string render_chat_prompt(const Server& s, const ChatRequest& r);

}  // namespace rotor::server
