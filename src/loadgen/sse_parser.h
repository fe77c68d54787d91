// loadgen/sse_parser.h — an incremental parser of a text/event-stream (Server-Sent Events) body.
// Bytes arrive in arbitrary pieces; complete events come out. Follows the WHATWG rules that
// OpenAI-style streams use: lines end in \n, \r\n or \r; "data:" lines of one event are joined
// with \n; a blank line ends an event; lines starting with ':' are comments.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace rotor::loadgen {

struct SseEvent {
  std::string event;  // the "event:" field ("" when absent)
  std::string data;   // the "data:" lines joined with '\n'
};

class SseParser {
 public:
  // Appends bytes; returns the events they complete (in order).
  std::vector<SseEvent> feed(std::string_view bytes);
  // The stream ended: an event whose blank line never came is returned (or nothing).
  std::vector<SseEvent> finish();

 private:
  void line(std::string_view l, std::vector<SseEvent>& out);

  std::string pending_;      // an incomplete line
  bool after_cr_ = false;    // the last byte was '\r' (a following '\n' belongs to it)
  SseEvent current_;
  bool has_data_ = false;    // current_ has seen a data field
};

}  // namespace rotor::loadgen
