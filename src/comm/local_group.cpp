// comm/local_group.cpp — the rendezvous of the ranks of one process (mutex, condition
// variable, a generation count), its timeout and its abort.
#include "comm/local_group.h"

#include <cstdlib>

#include "core/check.h"
#include "core/log.h"

namespace rotor {

std::chrono::milliseconds default_comm_timeout() {
  const char* v = std::getenv("ROTOR_COMM_TIMEOUT_S");
  if (v == nullptr || *v == '\0') return std::chrono::seconds(600);
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  ROTOR_CHECK(end != v && *end == '\0' && s > 0, "ROTOR_COMM_TIMEOUT_S={}: not a positive number of seconds", v);
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0));
}

LocalGroup::LocalGroup(int world_size, std::chrono::milliseconds timeout)
    : world_(world_size), timeout_(timeout), slots_(world_size), arrived_(world_size, false) {
  ROTOR_CHECK(world_size >= 1, "a group of {} ranks", world_size);
}

std::vector<std::string> LocalGroup::exchange(int rank, std::string value) {
  ROTOR_CHECK(rank >= 0 && rank < world_, "rank {} of a group of {}", rank, world_);
  std::unique_lock lock(mu_);
  if (aborted_) ROTOR_FAIL("rank {}: the group was aborted: {}", rank, reason_);
  ROTOR_CHECK(!arrived_[rank], "rank {} entered a collective twice (two threads with one rank?)", rank);
  slots_[rank] = std::move(value);
  arrived_[rank] = true;
  if (++count_ == world_) {
    result_.swap(slots_);
    slots_.assign(world_, std::string());
    arrived_.assign(world_, false);
    count_ = 0;
    ++generation_;
    cv_.notify_all();
    return result_;
  }
  const uint64_t gen = generation_;
  const bool done = cv_.wait_for(lock, timeout_, [&] { return generation_ != gen || aborted_; });
  if (generation_ != gen) return result_;
  if (aborted_) ROTOR_FAIL("rank {}: the group was aborted: {}", rank, reason_);
  (void)done;
  std::string missing;
  for (int r = 0; r < world_; ++r)
    if (!arrived_[r]) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
  const std::string reason =
      fmt::format("rank {} waited {} s in a collective for rank(s) {} (ROTOR_COMM_TIMEOUT_S)", rank,
                  static_cast<double>(timeout_.count()) / 1000.0, missing);
  lock.unlock();
  abort(reason);
  ROTOR_FAIL("{}", reason);
}

void LocalGroup::abort(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (aborted_) return;
    aborted_ = true;
    reason_ = reason;
  }
  ROTOR_LOG_ERROR("communicator group of {} ranks aborted: {}", world_, reason);
  cv_.notify_all();
  std::lock_guard lock(hooks_mu_);  // a communicator being destroyed waits for its hook to finish
  for (auto& [id, hook] : hooks_) hook();
}

bool LocalGroup::aborted() const {
  std::lock_guard lock(mu_);
  return aborted_;
}

std::string LocalGroup::abort_reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

int LocalGroup::add_abort_hook(std::function<void()> hook) {
  std::lock_guard lock(hooks_mu_);
  hooks_.emplace(next_hook_, std::move(hook));
  return next_hook_++;
}

void LocalGroup::remove_abort_hook(int id) {
  std::lock_guard lock(hooks_mu_);
  hooks_.erase(id);
}

}  // namespace rotor
