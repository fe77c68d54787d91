// server/generation_reply.h — GenerationReply: the ReplyStream that chat and text completions
// share over their Generation: the pump that drains the engine's deltas into SSE chunks (or
// keeps them for one JSON body at the end), and the end of an event stream: an error event
// when a choice failed (the others aborted), else the usage chunk when asked, then [DONE];
// and what every chunk and body starts with: the reply's id, created time and model.
// Each endpoint says how a delta becomes a chunk and how the body is made.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

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
  // SSE chunks as output arrives when options.stream, else one body; a usage chunk last when
  // options.include_usage. The id is id_prefix + options.request_id (random when none);
  // chunk_object: the "object" of a stream chunk; model: the served model name.
  GenerationReply(std::unique_ptr<Generation> gen, const GenerationOptions& options, std::string_view id_prefix,
                  std::string chunk_object, std::string model);

  // Streaming: choice i's delta as SSE chunks appended to `out` (an engine error: fail()).
  virtual void emit(int i, ChoiceDelta& d, std::string& out) = 0;
  // Not streaming: choice i's delta kept for body().
  virtual void collect(int i, ChoiceDelta& d) = 0;
  // The non-streamed body once every choice has finished (an error body: set_status() too).
  virtual std::string body() = 0;

  // A chunk of the event stream with these choices (the usage chunk has none): id, object,
  // created, model, choices, and "usage": null when a usage chunk comes last.
  json chunk(json choices) const;
  const std::string& id() const { return id_; }
  int64_t created() const { return created_; }
  const std::string& model() const { return model_; }
  // A choice failed while streaming: the stream ends after this pump with an error event.
  void fail(std::string error) { failure_ = std::move(error); }
  void set_status(int status) { status_ = status; }
  Generation& gen() { return *gen_; }
  const Generation& gen() const { return *gen_; }

 private:
  std::unique_ptr<Generation> gen_;
  const bool stream_, include_usage_;
  const std::string id_, chunk_object_, model_;
  const int64_t created_;
  std::string failure_;
  int status_ = 200;
  bool done_ = false;
};

}  // namespace rotor::server
