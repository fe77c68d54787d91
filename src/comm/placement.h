// comm/placement.h — which GPU each tensor-parallel rank of this process runs on: rank r on
// GPU r, or, with ROTOR_SAME_DEVICE_RANKS=1 in the environment, every rank on GPU 0 (tests
// of the sharded model and of the peer collectives on a one-GPU machine; no NCCL then).
#pragma once
#include <vector>

namespace rotor {

// ROTOR_SAME_DEVICE_RANKS is set to 1.
bool same_device_ranks();

// The GPU of each of `world_size` ranks on a machine with `device_count` GPUs; throws with a
// clear line when there are too few.
std::vector<int> rank_devices(int world_size, int device_count);

}  // namespace rotor
