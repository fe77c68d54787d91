// engine/runner/rank_set.cpp — placing the ranks, their threads, backends and communicators; loading
// their shards; shutting them down in order.
#include "engine/runner/rank_set.h"

#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <thread>

#include "comm/cpu_binding.h"
#include "comm/placement.h"
#include "comm/thread_comm.h"
#include "core/check.h"
#include "core/log.h"
#include "kernels/backend.h"

#ifdef ROTOR_HAVE_CUDA
#include "comm/cuda_comm.h"
#include "kernels/cuda/cuda_ops.h"
#endif

namespace rotor {
namespace {

// The cores this process may run on.
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

RankSet::RankSet(const RankSetOptions& o) : options_(o) {
  const int n = o.world_size;
  ROTOR_CHECK(n >= 1, "--tensor-parallel-size must be at least 1 (got {})", n);
  const bool gpu = o.device == "auto" ? cuda_available() : o.device != "cpu";
  ROTOR_CHECK(o.device == "auto" || o.device == "cpu" || o.device.rfind("cuda", 0) == 0,
              "--device must be cpu, cuda, cuda:N or auto (got '{}')", o.device);
  if (!gpu) {
    devices_.assign(n, Device{});
  } else {
    const int count = cuda_gpu_count();
    ROTOR_CHECK(count > 0, "--device {}: no GPU here (or this rotor was built without CUDA)", o.device);
    if (o.device.size() > 5 && o.device[4] == ':') {
      ROTOR_CHECK(n == 1,
                  "--device {} with --tensor-parallel-size {}: the ranks take GPUs 0 to {} (CUDA_VISIBLE_DEVICES "
                  "chooses which; ROTOR_SAME_DEVICE_RANKS=1 puts them all on GPU 0)",
                  o.device, n, n - 1);
      const std::string index = o.device.substr(5);
      ROTOR_CHECK(!index.empty() && index.find_first_not_of("0123456789") == std::string::npos &&
                      index.size() < 4 && std::stoi(index) < count,
                  "--device {}: no such GPU ({} present)", o.device, count);
      devices_.push_back({DeviceType::CUDA, std::stoi(index)});
    } else {
      for (int d : rank_devices(n, count)) devices_.push_back({DeviceType::CUDA, d});
    }
  }
  ROTOR_CHECK(o.first_lane >= 0 && o.lane_sms >= 0, "rank set: lane {} and {} SMs", o.first_lane, o.lane_sms);
  for (int r = 0; r < n; ++r)
    lanes_.push_back(o.first_lane + static_cast<int>(std::count(devices_.begin(), devices_.begin() + r, devices_[r])));
  // --prefill-lane-sms splits a GPU's SMs between one rank's two lanes.
  const bool split =
      gpu && o.lane_sms > 0 && std::all_of(lanes_.begin(), lanes_.end(), [&](int l) { return l == o.first_lane; });
  if (gpu && o.lane_sms > 0 && !split)
    ROTOR_LOG_WARN("--prefill-lane-sms {}: ranks share a GPU here, so their lanes share its SMs", o.lane_sms);
  ops_.resize(n);
  comms_.resize(n);
  if (n > 1) group_ = std::make_shared<LocalGroup>(n);
  // CPU ranks split the cores; one rank keeps OpenMP's default.
  const int cpu_threads = n > 1 ? std::max(1, usable_cpus() / n) : 0;
  const auto setup = [&](int r) {
#ifdef ROTOR_HAVE_CUDA
    if (split) {
      const int ask[2] = {o.lane_sms, 0};
      const std::vector<int> got = set_cuda_lane_sms(devices_[r].index, lanes_[r], ask);
      if (r == 0) ROTOR_LOG_INFO("prefill lane: decode lanes on {} SMs, prefill lanes on {}", got[0], got[1]);
    }
#endif
    ops_[r] = devices_[r].is_cpu() ? make_cpu_ops(cpu_threads) : make_gpu_ops(devices_[r].index, lanes_[r]);
    ops_[r]->make_current();
    if (!o.cpu_binding) return;
    if (devices_[r].is_cpu()) {
      if (r == 0) ROTOR_LOG_INFO("enable_cpu_binding: the CPU backend uses every core: nothing bound");
    } else {
      bind_thread_near_gpu(devices_[r].index);
    }
  };
  threads_ = std::make_unique<RankThreads>(n, setup);
  // The engine's and the server's threads (started from this one) run near rank 0's GPU.
  if (o.cpu_binding && n > 1 && gpu) bind_thread_near_gpu(devices_[0].index);
  if (group_) {
    threads_->set_error_hook([group = group_](int, const std::string& what) { group->abort(what); });
    threads_->set_group_failure([group = group_] { return group->abort_reason(); });
  }
  if (n == 1) {
    comms_[0] = make_local_comm();
  } else if (!gpu) {
    for (int r = 0; r < n; ++r) comms_[r] = make_thread_comm(group_, r);
  } else {
#ifdef ROTOR_HAVE_CUDA
    threads_->run([&](int r) { comms_[r] = make_cuda_comm(group_, r, devices_[r].index, cuda_stream(*ops_[r])); });
#endif
  }
  if (n > 1) {
    std::string where_all;
    for (int r = 0; r < n; ++r) where_all += (r ? ", " : "") + where(r);
    ROTOR_LOG_INFO("tensor parallel {}{}: ranks on {}", n, o.expert_parallel ? " (expert parallel)" : "", where_all);
  }
}

RankSet::~RankSet() {
  if (world_size() == 1) return;
  // Nothing may be freed while another rank's collective could still be running (a free waits
  // for the whole GPU, which ranks on one GPU share): drain every stream, then free on each
  // rank's own thread.
  try {
    threads_->run([&](int r) { ops_[r]->synchronize(); });
    threads_->run([&](int r) {
      comms_[r].reset();
      ops_[r].reset();
    });
  } catch (const std::exception& e) {
    ROTOR_LOG_ERROR("tensor parallel: shutting the ranks down: {}", e.what());
  }
}

RankSetOptions RankSet::beside() const {
  RankSetOptions o = options_;
  o.lane_sms = 0;
  o.first_lane = *std::max_element(lanes_.begin(), lanes_.end()) + 1;
  o.device = devices_[0].is_cpu() ? "cpu" : options_.device;
  return o;
}

std::string RankSet::where(int rank) const {
  const Device& d = devices_[rank];
  if (d.is_cpu()) return "cpu";
  return lanes_[rank] == 0 ? d.str() : fmt::format("{} lane {}", d.str(), lanes_[rank]);
}

std::vector<ModelWeights> RankSet::make_weights(const std::function<ModelWeights(int, Ops&)>& make) {
  std::vector<ModelWeights> w(world_size());
  threads_->run([&](int r) { w[r] = make(r, *ops_[r]); });
  return w;
}

RankSet::Loaded RankSet::load(LoadOptions o) {
  const int n = world_size();
  o.world_size = n;
  o.expert_parallel = options_.expert_parallel;
  // Bad options and splits fail here, once, before any rank reads a weight.
  const LoadedModel head = load_model_config(o);
  for (int r = 0; r < n; ++r) ShardSpec::make(head.config, r, n, o.expert_parallel);
  std::vector<LoadedModel> m(n);
  threads_->run([&](int r) {
    LoadOptions mine = o;
    mine.rank = r;
    m[r] = load_model(mine, *ops_[r]);
  });
  Loaded out;
  out.config = m[0].config;
  out.full_parameter_count = m[0].full_parameter_count;
  for (LoadedModel& x : m) out.weights.push_back(std::move(x.weights));
  return out;
}

std::vector<RankResources> RankSet::resources(std::vector<ModelWeights> weights) {
  const int n = world_size();
  ROTOR_CHECK(static_cast<int>(weights.size()) == n, "{} ranks' weights for {} ranks", weights.size(), n);
  std::vector<RankResources> ranks;
  for (int r = 0; r < n; ++r) ranks.push_back({ops_[r].get(), comms_[r].get(), std::move(weights[r])});
  return ranks;
}


}  // namespace rotor
