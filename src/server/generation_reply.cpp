// server/generation_reply.cpp — the pump of a generation endpoint's reply: engine deltas into
// SSE chunks or one body, and the end of the event stream.
#include "server/generation_reply.h"

#include "server/api_error.h"
#include "server/responses.h"

namespace rotor::server {

GenerationReply::GenerationReply(std::unique_ptr<Generation> gen, bool stream, bool include_usage)
    : gen_(std::move(gen)), stream_(stream), include_usage_(include_usage) {}

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
