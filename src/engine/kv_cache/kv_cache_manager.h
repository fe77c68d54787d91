// engine/kv_cache/kv_cache_manager.h — per-request block tables over one BlockPool: prefix
// lookups at admission, growing a request's table as its context grows (registering every
// newly full block of known tokens in the prefix cache, then or once the caller knows it
// written), and freeing it (vLLM v1's KVCacheManager; nano-vllm's BlockManager), at once or
// under a hold (a freed table whose blocks a device may still write, kept from reuse until the
// write is known done). Pure host code: block ids, no tensors.
#pragma once
#include <cstdint>
#include <limits>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/kv_cache/block_pool.h"

namespace rotor {

// Cached blocks covering tokens [0, num_tokens) of a request.
struct PrefixHit {
  std::vector<int32_t> blocks;
  int num_tokens = 0;
};

class KVCacheManager {
 public:
  KVCacheManager(int num_blocks, int block_size, bool enable_prefix_caching);

  // The cached full blocks at the start of `tokens`, leaving at least the last token to be
  // computed (its logits are needed). Empty when prefix caching is off.
  PrefixHit find_prefix(uint64_t req, std::span<const int32_t> tokens);

  // Makes `req` hold blocks for num_computed + num_new tokens: `hit` first (a request with no
  // blocks yet, num_computed = hit.num_tokens), then fresh blocks. Full blocks whose tokens
  // are all known (`known_tokens`), computed by the end of the step and among the first
  // `max_cached_tokens` join the prefix cache. Returns false and changes nothing when there are
  // not enough free blocks.
  bool allocate(uint64_t req, std::span<const int32_t> known_tokens, int num_computed, int num_new,
                const PrefixHit& hit = {}, int max_cached_tokens = std::numeric_limits<int>::max());
  // Offers the full blocks of `req` among its first num_tokens (`known_tokens`, written) to the
  // prefix cache. Nothing for a request without blocks.
  void cache_blocks(uint64_t req, std::span<const int32_t> known_tokens, int num_tokens);
  // Releases every block of `req` (last block first, so the tail of a context is evicted
  // before its head); cached ones stay reusable until evicted.
  void free(uint64_t req);
  // Frees `req`'s table once release_held(key) is called: until then its blocks keep their
  // references, so no one can allocate them (a step in flight may still write them). Cached
  // ones can still be hit.
  void free_held(uint64_t req, uint64_t key);
  // Frees the tables held under `key`, as free() would have.
  void release_held(uint64_t key);

  std::span<const int32_t> block_table(uint64_t req) const;
  int num_blocks() const { return pool_.num_blocks(); }
  int block_size() const { return pool_.block_size(); }
  int num_free_blocks() const { return pool_.num_free_blocks(); }
  double usage() const { return 1.0 - static_cast<double>(num_free_blocks()) / num_blocks(); }
  bool prefix_caching() const { return caching_; }
  uint64_t prefix_queries() const { return queries_; }  // tokens of admitted requests looked up
  uint64_t prefix_hits() const { return hits_; }        // of which served from the cache
  const BlockPool& pool() const { return pool_; }
  int num_held_blocks() const;           // block references kept by holds
  int num_held_blocks_to_free() const;   // blocks that only holds keep: free once they are released

  // Throws rotor::Error unless the pool is consistent and every block's ref count equals the
  // number of tables and holds holding it.
  void check_consistency() const;

 private:
  struct Table {
    std::vector<int32_t> blocks;
    std::vector<BlockHash> hashes;  // of the first full blocks of known tokens
    int num_cached = 0;             // blocks [0, num_cached) were offered to the cache
  };
  struct Held {
    uint64_t key = 0;
    std::vector<int32_t> blocks;  // in release order
  };
  void hash_blocks(Table& t, std::span<const int32_t> tokens, int num_full) const;
  void cache_full_blocks(Table& t, std::span<const int32_t> tokens, int num_full);

  BlockPool pool_;
  bool caching_;
  std::unordered_map<uint64_t, Table> tables_;
  std::vector<Held> held_;
  uint64_t queries_ = 0, hits_ = 0;
};

}  // namespace rotor
