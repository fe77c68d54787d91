// comm/cpu_binding.cpp — the cores near a GPU (NVML through dlopen, else hwloc's topology
// with PCI devices) and the thread binding (pthread affinity) for enable_cpu_binding.
#include "comm/cpu_binding.h"

#include <dlfcn.h>
#include <hwloc.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>

#include "core/check.h"
#include "core/log.h"

#ifdef ROTOR_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace rotor {
namespace {

// The cores this process may run on.
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

std::vector<int> intersect(const std::vector<int>& a, const std::vector<int>& b) {
  std::vector<int> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// NVML's answer, through the few entry points we need (no nvml.h: declared here, loaded at
// run time). Empty when the library or the GPU is not there.
std::vector<int> nvml_cpus(const std::string& pci_bus_id) {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return {};
  using Init = int (*)();
  using ByPci = int (*)(const char*, void**);
  using Affinity = int (*)(void*, unsigned, unsigned long*);
  auto init = reinterpret_cast<Init>(dlsym(lib, "nvmlInit_v2"));
  auto shutdown = reinterpret_cast<Init>(dlsym(lib, "nvmlShutdown"));
  auto by_pci = reinterpret_cast<ByPci>(dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2"));
  auto affinity = reinterpret_cast<Affinity>(dlsym(lib, "nvmlDeviceGetCpuAffinity"));
  std::vector<int> cpus;
  if (init && shutdown && by_pci && affinity && init() == 0) {
    void* dev = nullptr;
    std::vector<unsigned long> mask(CPU_SETSIZE / 64, 0);
    if (by_pci(pci_bus_id.c_str(), &dev) == 0 && affinity(dev, static_cast<unsigned>(mask.size()), mask.data()) == 0)
      cpus = cpus_of_mask(mask);
    shutdown();
  }
  dlclose(lib);
  return cpus;
}

// hwloc's answer: the cores of the first non-I/O object above the PCI device; and the NUMA
// nodes under those cores.
std::vector<int> hwloc_cpus(const std::string& pci_bus_id, std::vector<int>* numa_nodes) {
  unsigned domain = 0, bus = 0, dev = 0, func = 0;
  if (std::sscanf(pci_bus_id.c_str(), "%x:%x:%x.%x", &domain, &bus, &dev, &func) != 4) return {};
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) return {};
  std::vector<int> cpus;
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL);
  if (hwloc_topology_load(topo) == 0) {
    hwloc_obj_t pci = hwloc_get_pcidev_by_busid(topo, domain, bus, dev, func);
    hwloc_obj_t above = pci ? hwloc_get_non_io_ancestor_obj(topo, pci) : nullptr;
    if (above && above->cpuset) {
      unsigned c;
      hwloc_bitmap_foreach_begin(c, above->cpuset) cpus.push_back(static_cast<int>(c));
      hwloc_bitmap_foreach_end();
      for (hwloc_obj_t n = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, nullptr); n;
           n = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, n))
        if (n->cpuset && hwloc_bitmap_intersects(n->cpuset, above->cpuset)) numa_nodes->push_back(n->os_index);
    }
  }
  hwloc_topology_destroy(topo);
  return cpus;
}

}  // namespace

std::vector<int> cpus_of_mask(const std::vector<unsigned long>& mask) {
  std::vector<int> cpus;
  for (size_t w = 0; w < mask.size(); ++w)
    for (int b = 0; b < 64; ++b)
      if (mask[w] >> b & 1ul) cpus.push_back(static_cast<int>(w * 64 + b));
  return cpus;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string s;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(cpus[i]);
    if (j > i) s.append("-").append(std::to_string(cpus[j]));
    i = j + 1;
  }
  return s;
}

std::vector<int> parse_cpu_list(const std::string& list) {
  std::vector<int> cpus;
  size_t at = 0;
  while (at < list.size() && list[at] != '\n') {
    int lo = 0, hi = 0, used = 0;
    if (std::sscanf(list.c_str() + at, "%d-%d%n", &lo, &hi, &used) == 2) {
    } else if (std::sscanf(list.c_str() + at, "%d%n", &lo, &used) == 1) {
      hi = lo;
    } else {
      ROTOR_FAIL("CPU list '{}': not a list of numbers and ranges", list);
    }
    ROTOR_CHECK(lo >= 0 && hi >= lo, "CPU list '{}': bad range {}-{}", list, lo, hi);
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
    at += used;
    if (at < list.size() && list[at] == ',') ++at;
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

NearCpus cpus_near_pci_device(const std::string& pci_bus_id) {
  NearCpus near;
  const std::vector<int> allowed = allowed_cpus();
  std::vector<int> nodes;
  const std::vector<int> from_hwloc = intersect(hwloc_cpus(pci_bus_id, &nodes), allowed);
  near.cpus = intersect(nvml_cpus(pci_bus_id), allowed);
  near.source = "nvml";
  if (near.cpus.empty()) {
    near.cpus = from_hwloc;
    near.source = near.cpus.empty() ? "none" : "hwloc";
  }
  near.numa_nodes = nodes;
  return near;
}

bool bind_current_thread(const std::vector<int>& cpus) {
  if (cpus.empty()) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus)
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

std::vector<int> bind_thread_near_gpu(int device) {
#ifdef ROTOR_HAVE_CUDA
  char bus_id[32] = {};
  const cudaError_t e = cudaDeviceGetPCIBusId(bus_id, sizeof(bus_id), device);
  if (e != cudaSuccess) {
    ROTOR_LOG_WARN("enable_cpu_binding: no PCI address for GPU {} ({}): nothing bound", device,
                   cudaGetErrorString(e));
    return {};
  }
  const NearCpus near = cpus_near_pci_device(bus_id);
  if (near.cpus.empty()) {
    ROTOR_LOG_WARN("enable_cpu_binding: neither NVML nor hwloc knows the cores near GPU {} ({}): nothing bound",
                   device, bus_id);
    return {};
  }
  if (!bind_current_thread(near.cpus)) {
    ROTOR_LOG_WARN("enable_cpu_binding: the OS refused to bind to CPUs {} for GPU {}", format_cpu_list(near.cpus), device);
    return {};
  }
  std::string nodes;
  for (int n : near.numa_nodes) nodes.append(nodes.empty() ? "" : ",").append(std::to_string(n));
  ROTOR_LOG_INFO("enable_cpu_binding: GPU {} ({}) -> CPUs {} (NUMA node {}, from {})", device, bus_id,
                 format_cpu_list(near.cpus), nodes.empty() ? "?" : nodes, near.source);
  return near.cpus;
#else
  ROTOR_LOG_WARN("enable_cpu_binding: GPU {} asked for in a build without CUDA: nothing bound", device);
  return {};
#endif
}

}  // namespace rotor
