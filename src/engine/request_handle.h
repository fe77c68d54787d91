// engine/request_handle.h — the reader's end of one request: a stream of RequestOutputs that
// a server thread blocks on or polls, and abort. Move-only; dropping an unfinished handle
// aborts the request (a client that disconnects just lets go of it). A handle may outlive
// its Engine: the stream then ends with FinishReason::Abort.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
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
  // For readers that must not block (an event loop): fn is called on the engine's thread
  // each time new output is ready to read (and at once if some is), to wake the reader, who
  // then reads with next_for(0). fn must be quick, must not block and must not call back
  // into this handle. Replaced by the next call; removed when the handle goes away.
  void on_output(std::function<void()> fn);

 private:
  std::shared_ptr<RequestStream> stream_;
  std::shared_ptr<EngineInbox> inbox_;
};

}  // namespace rotor
