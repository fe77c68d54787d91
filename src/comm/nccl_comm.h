// comm/nccl_comm.h — the NCCL communicator of one GPU rank. Its bootstrap assumes nothing
// about where the ranks are: rank 0 makes a unique id (nccl_unique_id) and every other rank
// gets those 128 bytes from it, in memory when the ranks share a process (cuda_comm does
// this through its LocalGroup), over TCP when they do not (docs/multi-node.md).
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "comm/communicator.h"
#include "comm/local_group.h"

namespace rotor {

struct NcclId {
  char bytes[128];  // ncclUniqueId
};

// A new unique id (rank 0 makes it, once per communicator).
NcclId nccl_unique_id();
// "2.28.9": the NCCL library loaded.
std::string nccl_version();

// Rank `rank` of `world`, on GPU `device`, collectives on `stream`; every rank calls it at the
// same time with the same id. Initialisation waits at most `group`'s timeout and gives up when
// `group` is aborted (group may be null: no abort, a 600 s limit); aborting the group later
// aborts the NCCL communicator too, so no rank stays in a collective.
std::unique_ptr<Communicator> make_nccl_comm(const NcclId& id, int rank, int world, int device, cudaStream_t stream,
                                             std::shared_ptr<LocalGroup> group);

}  // namespace rotor
