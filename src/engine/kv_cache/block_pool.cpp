// engine/kv_cache/block_pool.cpp — free queue (an intrusive doubly linked list over block
// ids, so a prefix hit takes a block out of the middle in O(1)), ref counts, cache map.
#include "engine/kv_cache/block_pool.h"

#include <algorithm>

#include "core/check.h"
#include "core/hash_rng.h"

namespace rotor {

BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens) {
  uint64_t h = mix64(parent ^ (0x9e3779b97f4a7c15ull * (tokens.size() + 1)));
  for (int32_t t : tokens) h = mix64(h ^ static_cast<uint32_t>(t));
  return h;
}

BlockPool::BlockPool(int num_blocks, int block_size)
    : block_size_(block_size), blocks_(num_blocks), tokens_(static_cast<size_t>(num_blocks) * block_size) {
  ROTOR_CHECK(num_blocks > 0 && block_size > 0, "block pool: {} blocks of {} tokens", num_blocks, block_size);
  for (int32_t b = 0; b < num_blocks; ++b) push_back(b);
}

void BlockPool::push_back(int32_t b) {
  Block& k = blocks_[b];
  k.prev = tail_;
  k.next = -1;
  if (tail_ >= 0) blocks_[tail_].next = b; else head_ = b;
  tail_ = b;
  k.in_free = true;
  ++num_free_;
}

void BlockPool::unlink(int32_t b) {
  Block& k = blocks_[b];
  if (k.prev >= 0) blocks_[k.prev].next = k.next; else head_ = k.next;
  if (k.next >= 0) blocks_[k.next].prev = k.prev; else tail_ = k.prev;
  k.prev = k.next = -1;
  k.in_free = false;
  --num_free_;
}

void BlockPool::uncache(int32_t b) {
  Block& k = blocks_[b];
  if (!k.cached) return;
  auto it = cached_.find(k.hash);
  if (it != cached_.end() && it->second == b) cached_.erase(it);
  k.cached = false;
}

void BlockPool::allocate(int n, std::vector<int32_t>& out) {
  ROTOR_CHECK(n >= 0 && n <= num_free_, "block pool: {} blocks asked, {} free", n, num_free_);
  for (int i = 0; i < n; ++i) {
    const int32_t b = head_;
    unlink(b);
    if (blocks_[b].cached) {
      uncache(b);
      ++evictions_;
    }
    blocks_[b].ref = 1;
    out.push_back(b);
  }
}

void BlockPool::touch(std::span<const int32_t> blocks) {
  for (int32_t b : blocks) {
    if (blocks_[b].ref++ == 0) unlink(b);
  }
}

void BlockPool::release(std::span<const int32_t> blocks) {
  for (int32_t b : blocks) {
    ROTOR_CHECK(blocks_[b].ref > 0, "block pool: block {} released more often than held", b);
    if (--blocks_[b].ref == 0) push_back(b);
  }
}

int32_t BlockPool::lookup(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const {
  auto it = cached_.find(hash);
  if (it == cached_.end()) return -1;
  const Block& k = blocks_[it->second];
  const int32_t* held = &tokens_[static_cast<size_t>(it->second) * block_size_];
  if (k.parent != parent || !std::equal(tokens.begin(), tokens.end(), held)) return -1;
  return it->second;
}

void BlockPool::cache(int32_t block, BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) {
  ROTOR_CHECK(static_cast<int>(tokens.size()) == block_size_ && blocks_[block].ref > 0 && !blocks_[block].cached,
              "block pool: cannot cache block {}", block);
  if (!cached_.emplace(hash, block).second) return;
  Block& k = blocks_[block];
  k.cached = true;
  k.hash = hash;
  k.parent = parent;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<size_t>(block) * block_size_);
}

void BlockPool::check_consistency() const {
  int n = 0;
  int32_t prev = -1;
  for (int32_t b = head_; b >= 0; prev = b, b = blocks_[b].next) {
    ROTOR_CHECK(blocks_[b].in_free && blocks_[b].ref == 0 && blocks_[b].prev == prev,
                "block pool: free queue broken at block {}", b);
    ROTOR_CHECK(++n <= num_blocks(), "block pool: free queue has a cycle");
  }
  ROTOR_CHECK(prev == tail_ && n == num_free_, "block pool: free queue holds {} blocks, count says {}", n, num_free_);
  int cached = 0;
  for (int32_t b = 0; b < num_blocks(); ++b) {
    const Block& k = blocks_[b];
    ROTOR_CHECK(k.ref >= 0 && k.in_free == (k.ref == 0), "block pool: block {} ref {} in_free {}", b, k.ref, k.in_free);
    if (!k.cached) continue;
    ++cached;
    auto it = cached_.find(k.hash);
    ROTOR_CHECK(it != cached_.end() && it->second == b, "block pool: cached block {} missing from the map", b);
  }
  ROTOR_CHECK(cached == static_cast<int>(cached_.size()), "block pool: {} cached blocks, map holds {}", cached,
              cached_.size());
}

}  // namespace rotor
