// comm/placement.h — which GPU each tensor-parallel rank of this process runs on: rank r on
// GPU r, or, with ROTOR_SAME_DEVICE_RANKS=1 in the environment, every rank on GPU 0 (tests
// of the sharded model and of the peer collectives on a one-GPU machine; no NCCL then).
#pragma once
#include <vector>

namespace rotor {

// ROTOR_SAME_DEVICE_RANKS is set to 1.
bool same_device_ranks();

// With ROTOR_SAME_DEVICE_RANKS=1, sets CUDA_MODULE_LOADING=EAGER unless the environment already
// says: call it first in main, before CUDA starts. Under lazy loading a kernel's first launch
// may wait for everything running on its GPU (CUDA's "Lazy Loading: Potential Hazards"); on a
// GPU that ranks share, that includes another rank's collective spinning until this rank
// reaches it, which would then never end (until the group's timeout).
void load_kernels_eagerly_for_shared_gpus();

// The GPU of each of `world_size` ranks on a machine with `device_count` GPUs; throws with a
// clear line when there are too few.
std::vector<int> rank_devices(int world_size, int device_count);

}  // namespace rotor
