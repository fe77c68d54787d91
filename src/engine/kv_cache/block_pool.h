// engine/kv_cache/block_pool.h — the KV cache's blocks as host bookkeeping (block ids only,
// no tensors): reference counts, one free queue in LRU order, and the prefix-cache map from
// a full block's hash-chain value to the block holding those tokens. A cached block nobody
// holds stays in the free queue with its contents until allocate() evicts it (oldest first).
#pragma once
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace rotor {

using BlockHash = uint64_t;

// The hash of a full block given the hash of everything before it (kRootBlockHash at the
// start): a chain, so equal hashes mean equal prefixes (up to 64-bit collisions, which the
// pool also guards by comparing the block's own tokens and its parent's hash).
constexpr BlockHash kRootBlockHash = 0x5d1c3a7e9b2f4861ull;
BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens);

class BlockPool {
 public:
  BlockPool(int num_blocks, int block_size);

  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  int block_size() const { return block_size_; }
  int num_free_blocks() const { return num_free_; }   // ref count 0 (cached or not)
  int ref_count(int block) const { return blocks_[block].ref; }
  bool is_cached(int block) const { return blocks_[block].cached; }
  uint64_t num_evictions() const { return evictions_; }

  // Takes n blocks from the front of the free queue (evicting their cached contents) into
  // out, each with ref count 1. Requires n <= num_free_blocks().
  void allocate(int n, std::vector<int32_t>& out);
  // ref + 1 for each block (a prefix-cache hit); a block at 0 leaves the free queue.
  void touch(std::span<const int32_t> blocks);
  // ref - 1 for each block; blocks reaching 0 join the back of the free queue in this order.
  void release(std::span<const int32_t> blocks);

  // The cached block holding `tokens` after the prefix hashing to `parent`, or -1.
  int32_t lookup(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const;
  // Marks a held block as holding `tokens` (hash = hash_block(parent, tokens)). When another
  // block already caches that hash this block stays uncached.
  void cache(int32_t block, BlockHash hash, BlockHash parent, std::span<const int32_t> tokens);

  // Throws rotor::Error when the free queue, the counts and the cache map disagree.
  void check_consistency() const;

 private:
  struct Block {
    int ref = 0;
    int32_t prev = -1, next = -1;  // free-queue links
    bool in_free = false;
    bool cached = false;
    BlockHash hash = 0, parent = 0;
  };
  void push_back(int32_t b);
  void unlink(int32_t b);
  void uncache(int32_t b);

  int block_size_;
  std::vector<Block> blocks_;
  std::vector<int32_t> tokens_;  // [num_blocks * block_size] tokens of cached blocks
  int32_t head_ = -1, tail_ = -1;
  int num_free_ = 0;
  uint64_t evictions_ = 0;
  std::unordered_map<BlockHash, int32_t> cached_;
};

}  // namespace rotor
