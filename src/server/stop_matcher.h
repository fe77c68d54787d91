// server/stop_matcher.h — stop strings matched on the decoded text as it streams: text that
// could still be the start of a stop string is held back, so a stop string split across
// tokens is found and never emitted (unless include_stop_str_in_output).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace rotor::server {

class StopMatcher {
 public:
  StopMatcher(std::vector<std::string> stops, bool include_stop_in_output);

  // Takes newly decoded text and returns what can be emitted now. can_stop = false (before
  // min_tokens) passes the text through without matching. Once stopped, returns "".
  std::string push(std::string_view text, bool can_stop = true);
  // Generation ended: the held-back text.
  std::string flush();

  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }  // the stop string that ended the text

 private:
  std::vector<std::string> stops_;
  bool include_;
  std::string held_;
  bool stopped_ = false;
  std::string matched_;
};

// Hold-back helper shared with the output parsers: the length of the longest suffix of
// `text` that is a proper prefix of `marker`.
size_t partial_suffix(std::string_view text, std::string_view marker);

}  // namespace rotor::server
