// engine/request_stream.h — the engine's side of a RequestHandle: RequestStream (one request's
// pending output, merged until read, with a condition variable for the reader) and
// EngineInbox (new requests and aborts on their way to the engine thread). Internal to
// rotor_engine; the server sees RequestHandle.
#pragma once
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/request_output.h"
#include "engine/scheduler/request.h"

namespace rotor {

class RequestStream {
 public:
  RequestStream(uint64_t id, int num_prompt_tokens, Clock::time_point arrival);
  uint64_t id() const { return id_; }

  // Engine thread: merges one update (and the request's times) into the pending output.
  void push(const RequestUpdate& u, const RequestTimes& times);
  // Ends the stream with FinishReason::Error or Abort, unless it already ended.
  void end(FinishReason reason, const std::string& error, const RequestTimes& times);

  // Reader: waits for pending output (timeout unset: forever); nullopt on timeout.
  std::optional<RequestOutput> take(std::optional<std::chrono::milliseconds> timeout);
  bool final_taken() const;
  // Reader: fn runs (under the stream's lock, on the pushing thread) whenever output becomes
  // pending, and at once if some already is; nullptr removes it. Returns after any call of
  // the previous fn has ended.
  void set_notify(std::function<void()> fn);

 private:
  const uint64_t id_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> notify_;
  RequestOutput pending_;
  bool has_pending_ = false;
  bool ended_ = false;        // the final output was pushed
  bool final_taken_ = false;  // and read
};

class EngineInbox {
 public:
  struct Submission {
    Request request;
    std::shared_ptr<RequestStream> stream;
    Clock::time_point arrival;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Submission> submissions;
  std::vector<uint64_t> aborts;
  bool closed = false;   // no more submissions (shut down or failed)
  std::string error;     // why the engine failed, if it did
  uint64_t completions = 0;  // steps the engine's workers completed (they wake the loop)

  void abort(uint64_t id);
  // A worker completed a step: wakes the engine's loop.
  void completed();
};

}  // namespace rotor
