// loadgen/progress_line.cpp — the live status line (see progress_line.h).
#include "loadgen/progress_line.h"

#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>

namespace rotor::loadgen {

ProgressLine::ProgressLine(const LiveCounters& live, int total, std::string label, Clock::time_point t0)
    : live_(live), total_(total), label_(std::move(label)), t0_(t0) {
  if (isatty(STDERR_FILENO)) thread_ = std::thread([this] { loop(); });
}

ProgressLine::~ProgressLine() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  std::fputs("\r\x1b[2K", stderr);
  std::fflush(stderr);
}

void ProgressLine::loop() {
  int64_t last_chunks = 0;
  auto last_t = Clock::now();
  double rate = 0;
  while (!stop_) {
    for (int i = 0; i < 5 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto now = Clock::now();
    const int64_t chunks = live_.chunks.load();
    const double dt = std::chrono::duration<double>(now - last_t).count();
    if (dt > 0) rate = static_cast<double>(chunks - last_chunks) / dt;
    last_chunks = chunks;
    last_t = now;
    const int done = live_.finished.load(), failed = live_.failed.load();
    const std::string line = fmt::format(
        "\r\x1b[2K{}: {}/{} done ({} failed), {} running | {} chunks streamed, {:.1f}/s now | {:.1f} s", label_, done,
        total_, failed, live_.started.load() - done, chunks, rate,
        std::chrono::duration<double>(now - t0_).count());
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
  }
}

}  // namespace rotor::loadgen
