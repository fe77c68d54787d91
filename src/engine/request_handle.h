// engine/request_handle.h — the reader's end of one request: a stream of RequestOutputs that
// a server thread blocks on or polls, and abort. Move-only; dropping an unfinished handle
// aborts the request (a client that disconnects just lets go of it). A handle may outlive
// its Engine: the stream then ends with FinishReason::Abort.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "engine/request_output.h"

namespace rotor {

class RequestStream;
class EngineInbox;

class RequestHandle {
 public:
  RequestHandle() = default;
  RequestHandle(std::shared_ptr<RequestStream> stream, std::shared_ptr<EngineInbox> inbox);
  RequestHandle(RequestHandle&&) noexcept;
  RequestHandle& operator=(RequestHandle&&) noexcept;
  RequestHandle(const RequestHandle&) = delete;
  RequestHandle& operator=(const RequestHandle&) = delete;
  ~RequestHandle();  // aborts the request unless its final output was read

  uint64_t id() const;
  // Blocks until there is something new; merges everything pending. The output with
  // finished = true is the last one; calling next() after it is an error.
  RequestOutput next();
  // As next(), but gives up after `timeout` (nullopt), e.g. to check the client is still there.
  std::optional<RequestOutput> next_for(std::chrono::milliseconds timeout);
  // Everything until the end, merged into one output (finished = true).
  RequestOutput wait();
  // The final output has been read.
  bool finished() const;
  // Cancels the request; its stream ends with FinishReason::Abort (unless it finished first).
  void abort();

 private:
  std::shared_ptr<RequestStream> stream_;
  std::shared_ptr<EngineInbox> inbox_;
};

}  // namespace rotor
