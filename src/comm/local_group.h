// comm/local_group.h — what the ranks of one process share: a rendezvous (every rank hands
// in a small host value and gets everyone's back; a barrier) bounded by a timeout, and an
// abort that wakes every rank waiting in it. It is the thread communicator's data plane and
// the setup channel of the GPU communicators (peer buffer addresses, NCCL's unique id).
// Ranks on several nodes will meet through a TCP rendezvous instead (docs/multi-node.md).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

namespace rotor {

// How long a rank waits for the others in a collective: ROTOR_COMM_TIMEOUT_S (default 600).
std::chrono::milliseconds default_comm_timeout();

class LocalGroup {
 public:
  explicit LocalGroup(int world_size, std::chrono::milliseconds timeout = default_comm_timeout());
  LocalGroup(const LocalGroup&) = delete;
  LocalGroup& operator=(const LocalGroup&) = delete;

  int world_size() const { return world_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Collective: every rank gives `value`; returns every rank's value, by rank. Throws (and
  // aborts the group) when the others do not come within the timeout; throws when the
  // group is or gets aborted.
  std::vector<std::string> exchange(int rank, std::string value);
  template <typename T>
  std::vector<T> exchange_value(int rank, const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<std::string> all = exchange(rank, std::string(reinterpret_cast<const char*>(&v), sizeof(T)));
    std::vector<T> out(all.size());
    for (size_t r = 0; r < all.size(); ++r) std::memcpy(&out[r], all[r].data(), sizeof(T));
    return out;
  }
  void barrier(int rank) { exchange(rank, {}); }

  // Stops the group for good: every rank waiting in it now or later throws an Error naming
  // `reason`, and the abort hooks run (once, on this thread). The first reason wins.
  void abort(const std::string& reason);
  bool aborted() const;
  // The first abort's reason ("" while not aborted).
  std::string abort_reason() const;
  // The group's one object under `key`, made by the first rank that asks: setup state that
  // every rank's communicator shares (device buffers of all ranks), freed with the last owner.
  template <typename T, typename Make>
  std::shared_ptr<T> shared_state(const std::string& key, Make&& make) {
    std::lock_guard lock(mu_);
    std::shared_ptr<void>& s = state_[key];
    if (!s) s = make();
    return std::static_pointer_cast<T>(s);
  }

  // A hook that makes device-side waits give up (GPU communicators register theirs).
  int add_abort_hook(std::function<void()> hook);
  void remove_abort_hook(int id);

 private:
  const int world_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> slots_;   // [world] values of the exchange under way
  std::vector<bool> arrived_;        // [world]
  int count_ = 0;
  uint64_t generation_ = 0;          // exchanges completed
  std::vector<std::string> result_;  // the last completed exchange's values
  bool aborted_ = false;
  std::string reason_;
  std::map<std::string, std::shared_ptr<void>> state_;
  std::mutex hooks_mu_;  // guards hooks_ and their runs
  std::map<int, std::function<void()>> hooks_;
  int next_hook_ = 0;
};

}  // namespace rotor
