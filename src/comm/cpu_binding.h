// comm/cpu_binding.h — enable_cpu_binding (vllm-ascend's additional_config): each rank's
// threads run on the CPU cores nearest its GPU. The cores come from NVML's CPU affinity of the
// GPU (NVML is loaded with dlopen, so a machine without the driver still runs) or else from
// hwloc (the cores of the NUMA node or package above the GPU's PCI device).
#pragma once
#include <string>
#include <vector>

namespace rotor {

struct NearCpus {
  std::vector<int> cpus;  // ascending; empty when nothing is known
  std::string source;     // "nvml", "hwloc" or "none"
  std::vector<int> numa_nodes;  // the NUMA nodes those cores belong to (hwloc), for the log
};

// The cores nearest the PCI device "domain:bus:device.function" (hex), limited to the cores
// this process may run on.
NearCpus cpus_near_pci_device(const std::string& pci_bus_id);

// NVML's CPU affinity mask (unsigned longs, bit i of word w = CPU 64 w + i) as CPU numbers.
std::vector<int> cpus_of_mask(const std::vector<unsigned long>& mask);

// "0-3,8,10-11" as CPU numbers (sysfs's local_cpulist format); throws on anything else.
std::vector<int> parse_cpu_list(const std::string& list);

// The other way: ascending CPUs as "0-3,8,10-11".
std::string format_cpu_list(const std::vector<int>& cpus);

// Pins the calling thread (and the threads it starts afterwards) to `cpus`; false when the
// OS refuses.
bool bind_current_thread(const std::vector<int>& cpus);

// enable_cpu_binding for the rank on CUDA device `device`: binds the calling thread to the
// cores nearest that GPU and logs what it bound (or why nothing). Returns the cores bound.
std::vector<int> bind_thread_near_gpu(int device);

}  // namespace rotor
