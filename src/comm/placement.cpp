// comm/placement.cpp — ranks to GPUs (placement.h).
#include "comm/placement.h"

#include <cstdlib>
#include <cstring>

#include "core/check.h"

namespace rotor {

bool same_device_ranks() {
  const char* v = std::getenv("ROTOR_SAME_DEVICE_RANKS");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

void load_kernels_eagerly_for_shared_gpus() {
  if (same_device_ranks()) setenv("CUDA_MODULE_LOADING", "EAGER", /*overwrite=*/0);
}

std::vector<int> rank_devices(int world_size, int device_count) {
  ROTOR_CHECK(world_size >= 1, "tensor parallel size {}", world_size);
  ROTOR_CHECK(device_count >= 1, "tensor parallel {} needs GPUs; this machine has none", world_size);
  std::vector<int> devices(world_size, 0);
  if (same_device_ranks()) return devices;
  ROTOR_CHECK(world_size <= device_count,
              "tensor parallel {} needs {} GPUs, this machine has {} (ROTOR_SAME_DEVICE_RANKS=1 runs every rank on "
              "GPU 0, for testing)",
              world_size, world_size, device_count);
  for (int r = 0; r < world_size; ++r) devices[r] = r;
  return devices;
}

}  // namespace rotor
