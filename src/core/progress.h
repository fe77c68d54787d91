// core/progress.h — ProgressMeter: a log line every ~2 s (and one at the end) for long byte
// transfers (downloads, weight loading): done / total, rate, ETA, and what is being worked on.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace rotor {

class ProgressMeter {
 public:
  using Clock = std::chrono::steady_clock;
  // `what` starts every line ("download model.safetensors", "loading weights"); total_bytes
  // may be 0 when unknown (no percentage or ETA then).
  ProgressMeter(std::string what, uint64_t total_bytes, double interval_s = 2.0);

  // Adds `bytes` done; logs when the interval has passed since the last line. `detail`
  // (e.g. the shard being read) is shown on that line. Thread-safe.
  void add(uint64_t bytes, const std::string& detail = "");
  // Logs `message` now with the totals so far (a shard finished, a phase ended).
  void note(const std::string& message);
  // The closing line: bytes, time, mean rate.
  void finish();

  uint64_t done() const;
  uint64_t total() const { return total_; }

  // "1.50 GiB", "12.0 MiB", "512 B".
  static std::string bytes_str(double bytes);
  // The progress part of a line, from numbers (unit-testable): "1.00 / 4.00 GiB (25.0%),
  // 100 MiB/s, ETA 31 s".
  static std::string line(uint64_t done, uint64_t total, double elapsed_s);

 private:
  void log_locked(const std::string& suffix);

  std::string what_;
  uint64_t total_;
  double interval_s_;
  Clock::time_point start_, last_;
  uint64_t done_ = 0;
  std::string detail_;
  mutable std::mutex mu_;
};

}  // namespace rotor
