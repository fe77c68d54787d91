// server/stop_matcher.cpp — earliest-match stop strings with a minimal hold-back.
#include "server/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace rotor::server {

size_t partial_suffix(std::string_view text, std::string_view marker) {
  const size_t longest = std::min(text.size(), marker.empty() ? 0 : marker.size() - 1);
  for (size_t k = longest; k > 0; --k)
    if (text.substr(text.size() - k) == marker.substr(0, k)) return k;
  return 0;
}

StopMatcher::StopMatcher(std::vector<std::string> stops, bool include_stop_in_output)
    : stops_(std::move(stops)), include_(include_stop_in_output) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string StopMatcher::push(std::string_view text, bool can_stop) {
  if (stopped_) return "";
  held_.append(text);
  if (stops_.empty() || !can_stop) return std::exchange(held_, {});
  // The earliest occurrence of any stop string (the longest one at that position).
  size_t best = std::string::npos;
  const std::string* hit = nullptr;
  for (const std::string& s : stops_) {
    const size_t pos = held_.find(s);
    if (pos != std::string::npos && (pos < best || (pos == best && s.size() > hit->size()))) {
      best = pos;
      hit = &s;
    }
  }
  if (hit) {
    stopped_ = true;
    matched_ = *hit;
    std::string out = held_.substr(0, include_ ? best + hit->size() : best);
    held_.clear();
    return out;
  }
  size_t keep = 0;
  for (const std::string& s : stops_) keep = std::max(keep, partial_suffix(held_, s));
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopMatcher::flush() {
  if (stopped_) return "";
  return std::exchange(held_, {});
}

}  // namespace rotor::server
