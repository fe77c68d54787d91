// loadgen/sse_parser.cpp — the incremental Server-Sent Events parser (see sse_parser.h).
#include "loadgen/sse_parser.h"

namespace rotor::loadgen {

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
  std::vector<SseEvent> out;
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the \n of a \r\n pair
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      line(pending_, out);
      pending_.clear();
    } else {
      pending_.push_back(c);
    }
  }
  return out;
}

std::vector<SseEvent> SseParser::finish() {
  std::vector<SseEvent> out;
  if (!pending_.empty()) {
    line(pending_, out);
    pending_.clear();
  }
  if (has_data_) out.push_back(std::move(current_));
  current_ = {};
  has_data_ = false;
  return out;
}

void SseParser::line(std::string_view l, std::vector<SseEvent>& out) {
  if (l.empty()) {  // dispatch
    if (has_data_) out.push_back(std::move(current_));
    current_ = {};
    has_data_ = false;
    return;
  }
  if (l.front() == ':') return;  // comment (keep-alive)
  std::string_view field = l, value;
  if (const size_t colon = l.find(':'); colon != std::string_view::npos) {
    field = l.substr(0, colon);
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  }
}

}  // namespace rotor::loadgen
