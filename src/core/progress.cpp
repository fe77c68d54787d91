// core/progress.cpp — ProgressMeter's arithmetic and log lines.
#include "core/progress.h"

#include <fmt/format.h>

#include <cmath>

#include "core/log.h"

namespace rotor {

ProgressMeter::ProgressMeter(std::string what, uint64_t total_bytes, double interval_s)
    : what_(std::move(what)), total_(total_bytes), interval_s_(interval_s), start_(Clock::now()), last_(start_) {}

std::string ProgressMeter::bytes_str(double b) {
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{:.0f} B", b);
}

std::string ProgressMeter::line(uint64_t done, uint64_t total, double elapsed_s) {
  const double rate = elapsed_s > 0 ? done / elapsed_s : 0.0;
  std::string s = total > 0 ? fmt::format("{} / {} ({:.1f}%)", bytes_str(done), bytes_str(total), 100.0 * done / total)
                            : bytes_str(done);
  s += fmt::format(", {}/s", bytes_str(rate));
  if (total > 0 && done < total && rate > 0) s += fmt::format(", ETA {:.0f} s", std::ceil((total - done) / rate));
  return s;
}

void ProgressMeter::log_locked(const std::string& suffix) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  ROTOR_LOG_INFO("{}: {}{}", what_, line(done_, total_, elapsed), suffix);
  last_ = Clock::now();
}

void ProgressMeter::add(uint64_t bytes, const std::string& detail) {
  std::lock_guard lock(mu_);
  done_ += bytes;
  if (!detail.empty()) detail_ = detail;
  if (std::chrono::duration<double>(Clock::now() - last_).count() >= interval_s_)
    log_locked(detail_.empty() ? "" : " [" + detail_ + "]");
}

void ProgressMeter::note(const std::string& message) {
  std::lock_guard lock(mu_);
  log_locked(" [" + message + "]");
}

void ProgressMeter::finish() {
  std::lock_guard lock(mu_);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  ROTOR_LOG_INFO("{}: done, {} in {:.1f} s ({}/s)", what_, bytes_str(done_), elapsed,
                 bytes_str(elapsed > 0 ? done_ / elapsed : 0.0));
}

uint64_t ProgressMeter::done() const {
  std::lock_guard lock(mu_);
  return done_;
}

}  // namespace rotor
