// server/generation_reply.cpp — the pump of a generation endpoint's reply: engine deltas into
// SSE chunks or one body, the end of the event stream, and the chunks' common fields.
#include "server/generation_reply.h"

#include "server/api_error.h"
#include "server/responses.h"

namespace rotor::server {

GenerationReply::GenerationReply(std::unique_ptr<Generation> gen, const GenerationOptions& options,
                                 std::string_view id_prefix, std::string chunk_object, std::string model)
    : gen_(std::move(gen)),
      stream_(options.stream),
      include_usage_(options.include_usage),
      id_(std::string(id_prefix) + (options.request_id.empty() ? random_id("") : options.request_id)),
      chunk_object_(std::move(chunk_object)),
      model_(std::move(model)),
      created_(unix_seconds()) {}

json GenerationReply::chunk(json choices) const {
  json c = {{"id", id_}, {"object", chunk_object_}, {"created", created_}, {"model", model_},
            {"choices", std::move(choices)}};
  if (include_usage_) c["usage"] = nullptr;
  return c;
}

bool GenerationReply::pump(std::string& out) {
  if (done_) return true;
  const bool more = gen_->poll([&](int i, ChoiceDelta& d) {
    if (stream_) emit(i, d, out);
    else collect(i, d);
  });
  if (more && failure_.empty()) return false;
  done_ = true;
  if (!stream_) {
    out += body();
    return true;
  }
  if (!failure_.empty()) {
    gen_->abort();
    out += sse_event(error_body(500, failure_));
  } else if (include_usage_) {
    json usage_chunk = chunk(json::array());
    usage_chunk["usage"] = gen_->usage();
    out += sse_event(usage_chunk);
  }
  out += kSseDone;
  return true;
}

}  // namespace rotor::server
