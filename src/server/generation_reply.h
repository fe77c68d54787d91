// server/generation_reply.h — GenerationReply: the ReplyStream that chat and text completions
// share over their Generation: the pump that drains the engine's deltas into SSE chunks (or
// keeps them for one JSON body at the end), and the end of an event stream: an error event
// when a choice failed (the others aborted), else the usage chunk when asked, then [DONE].
// Each endpoint says how a delta becomes a chunk, how the body is made, and what a chunk is.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "server/generation.h"
#include "server/http_types.h"
#include "server/json.h"

namespace rotor::server {

class GenerationReply : public ReplyStream {
 public:
  bool event_stream() const final { return stream_; }
  void on_output(std::function<void()> fn) final { gen_->on_output(fn); }
  void abort() final { gen_->abort(); }
  int status() const final { return status_; }
  bool pump(std::string& out) final;

 protected:
  // stream: SSE chunks as output arrives, else one body; include_usage: a usage chunk last.
  GenerationReply(std::unique_ptr<Generation> gen, bool stream, bool include_usage);

  // Streaming: choice i's delta as SSE chunks appended to `out` (an engine error: fail()).
  virtual void emit(int i, ChoiceDelta& d, std::string& out) = 0;
  // Not streaming: choice i's delta kept for body().
  virtual void collect(int i, ChoiceDelta& d) = 0;
  // The non-streamed body once every choice has finished (an error body: set_status() too).
  virtual std::string body() = 0;
  // A chunk of the event stream with these choices (the usage chunk has none).
  virtual json chunk(json choices) const = 0;

  // A choice failed while streaming: the stream ends after this pump with an error event.
  void fail(std::string error) { failure_ = std::move(error); }
  void set_status(int status) { status_ = status; }
  Generation& gen() { return *gen_; }
  const Generation& gen() const { return *gen_; }

 private:
  std::unique_ptr<Generation> gen_;
  const bool stream_, include_usage_;
  std::string failure_;
  int status_ = 200;
  bool done_ = false;
};

}  // namespace rotor::server
