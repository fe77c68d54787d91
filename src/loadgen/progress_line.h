// loadgen/progress_line.h — a live one-line status on stderr while requests run (only when stderr
// is a terminal): done/failed/running, output chunks streamed and their current rate, elapsed.
#pragma once
#include <atomic>
#include <string>
#include <thread>

#include "loadgen/http_client.h"
#include "loadgen/load_generator.h"

namespace rotor::loadgen {

class ProgressLine {
 public:
  // Starts redrawing every half second if stderr is a TTY; otherwise does nothing.
  ProgressLine(const LiveCounters& live, int total, std::string label, Clock::time_point t0);
  ~ProgressLine();  // stops and erases the line
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

 private:
  void loop();
  const LiveCounters& live_;
  int total_;
  std::string label_;
  Clock::time_point t0_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace rotor::loadgen
