// comm/thread_comm.h — the communicators of CPU ranks that are threads of one process (the
// CPU backend's tensor parallelism, and the tests of the sharded model): every collective
// meets in a LocalGroup, where each rank hands in its tensors' addresses; each rank then
// computes a slice of the result on the host (sums in rank order) and writes it into every
// rank's tensor, and a second meeting ends the collective.
#pragma once
#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "comm/local_group.h"

namespace rotor {

// The communicator of `rank` in `group`; each rank's thread uses its own.
std::unique_ptr<Communicator> make_thread_comm(std::shared_ptr<LocalGroup> group, int rank);
// All of a group's communicators at once, by rank.
std::vector<std::unique_ptr<Communicator>> make_thread_comms(int world_size);

}  // namespace rotor
