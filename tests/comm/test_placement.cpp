// tests/comm/test_placement.cpp — ranks to GPUs (ROTOR_SAME_DEVICE_RANKS) and the pieces of
// enable_cpu_binding that run without a GPU: CPU lists and masks, binding a thread, and
// hwloc's cores near a PCI device against the kernel's own answer (sysfs local_cpulist).
#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "comm/cpu_binding.h"
#include "comm/placement.h"

namespace rotor {
namespace {

std::vector<int> thread_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

TEST(Placement, RanksGoToTheirOwnGpuOrAllToGpuZero) {
  unsetenv("ROTOR_SAME_DEVICE_RANKS");
  EXPECT_EQ(rank_devices(4, 8), (std::vector<int>{0, 1, 2, 3}));
  try {
    rank_devices(4, 1);
    ADD_FAILURE() << "4 ranks on 1 GPU without ROTOR_SAME_DEVICE_RANKS";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("ROTOR_SAME_DEVICE_RANKS=1"), std::string::npos) << e.what();
  }
  setenv("ROTOR_SAME_DEVICE_RANKS", "1", 1);
  EXPECT_TRUE(same_device_ranks());
  EXPECT_EQ(rank_devices(4, 1), (std::vector<int>{0, 0, 0, 0}));
  unsetenv("ROTOR_SAME_DEVICE_RANKS");
  EXPECT_THROW(rank_devices(2, 0), std::exception);
}

TEST(CpuBinding, CpuListsAndMasks) {
  EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
  EXPECT_EQ(parse_cpu_list(format_cpu_list({5, 64, 65, 127})), (std::vector<int>{5, 64, 65, 127}));
  EXPECT_THROW(parse_cpu_list("0-x"), std::exception);
  EXPECT_EQ(cpus_of_mask({0x5ul, 0x1ul << 63}), (std::vector<int>{0, 2, 127}));
}

TEST(CpuBinding, BindsTheCallingThreadAndItsChildren) {
  std::thread t([] {
    const std::vector<int> all = thread_cpus();
    ASSERT_FALSE(all.empty());
    ASSERT_TRUE(bind_current_thread({all.back()}));
    EXPECT_EQ(thread_cpus(), std::vector<int>{all.back()});
    std::vector<int> child;
    std::thread([&] { child = thread_cpus(); }).join();
    EXPECT_EQ(child, std::vector<int>{all.back()});
  });
  t.join();
  EXPECT_FALSE(bind_current_thread({}));
}

// hwloc's cores near each PCI device of this machine are the kernel's local_cpulist (within
// the cores this process may use); a device that does not exist has none.
TEST(CpuBinding, CoresNearAPciDeviceMatchSysfs) {
  namespace fs = std::filesystem;
  const fs::path root = "/sys/bus/pci/devices";
  if (!fs::exists(root)) GTEST_SKIP() << "no " << root;
  const std::vector<int> allowed = thread_cpus();
  int checked = 0;
  for (const auto& dev : fs::directory_iterator(root)) {
    std::ifstream f(dev.path() / "local_cpulist");
    std::string list;
    if (!std::getline(f, list)) continue;
    std::vector<int> want;
    for (int c : parse_cpu_list(list))
      if (std::find(allowed.begin(), allowed.end(), c) != allowed.end()) want.push_back(c);
    const NearCpus near = cpus_near_pci_device(dev.path().filename().string());
    if (near.source == "nvml") continue;  // a GPU with the driver: NVML's answer
    EXPECT_EQ(near.source, want.empty() ? "none" : "hwloc") << dev.path();
    EXPECT_EQ(near.cpus, want) << dev.path();
    if (++checked == 8) break;
  }
  if (checked == 0) GTEST_SKIP() << "no PCI device with a local_cpulist";
  EXPECT_EQ(cpus_near_pci_device("ffff:ff:1f.7").source, "none");
}

}  // namespace
}  // namespace rotor
