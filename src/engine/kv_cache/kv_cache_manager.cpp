// engine/kv_cache/kv_cache_manager.cpp — block tables, prefix lookup and registration (at allocation or
// later), holds.
#include "engine/kv_cache/kv_cache_manager.h"

#include <algorithm>

#include "core/check.h"

namespace rotor {

KVCacheManager::KVCacheManager(int num_blocks, int block_size, bool enable_prefix_caching)
    : pool_(num_blocks, block_size), caching_(enable_prefix_caching) {}

void KVCacheManager::hash_blocks(Table& t, std::span<const int32_t> tokens, int num_full) const {
  const int bs = block_size();
  for (int i = static_cast<int>(t.hashes.size()); i < num_full; ++i) {
    const BlockHash parent = i == 0 ? kRootBlockHash : t.hashes[i - 1];
    t.hashes.push_back(hash_block(parent, tokens.subspan(static_cast<size_t>(i) * bs, bs)));
  }
}

PrefixHit KVCacheManager::find_prefix(uint64_t req, std::span<const int32_t> tokens) {
  PrefixHit hit;
  if (!caching_) return hit;
  Table& t = tables_[req];
  ROTOR_CHECK(t.blocks.empty(), "kv cache: prefix lookup for request {} that holds blocks", req);
  const int bs = block_size();
  const int max_blocks = (static_cast<int>(tokens.size()) - 1) / bs;
  hash_blocks(t, tokens, max_blocks);
  for (int i = 0; i < max_blocks; ++i) {
    const BlockHash parent = i == 0 ? kRootBlockHash : t.hashes[i - 1];
    const int32_t b = pool_.lookup(t.hashes[i], parent, tokens.subspan(static_cast<size_t>(i) * bs, bs));
    if (b < 0) break;
    hit.blocks.push_back(b);
  }
  hit.num_tokens = static_cast<int>(hit.blocks.size()) * bs;
  return hit;
}

bool KVCacheManager::allocate(uint64_t req, std::span<const int32_t> known_tokens, int num_computed, int num_new,
                              const PrefixHit& hit, int max_cached_tokens) {
  Table& t = tables_[req];
  const bool fresh = t.blocks.empty();
  ROTOR_CHECK(hit.blocks.empty() || (fresh && num_computed == hit.num_tokens),
              "kv cache: a prefix hit for request {} that already holds blocks", req);
  const int bs = block_size();
  const int total = num_computed + num_new;
  const int needed = (total + bs - 1) / bs - static_cast<int>(t.blocks.size() + hit.blocks.size());
  const int evictable = static_cast<int>(
      std::count_if(hit.blocks.begin(), hit.blocks.end(), [&](int32_t b) { return pool_.ref_count(b) == 0; }));
  if (std::max(needed, 0) + evictable > pool_.num_free_blocks()) return false;

  if (fresh && caching_) {
    queries_ += known_tokens.size();
    hits_ += hit.num_tokens;
  }
  pool_.touch(hit.blocks);
  t.blocks.insert(t.blocks.end(), hit.blocks.begin(), hit.blocks.end());
  t.num_cached = std::max(t.num_cached, static_cast<int>(hit.blocks.size()));
  if (needed > 0) pool_.allocate(needed, t.blocks);
  cache_full_blocks(t, known_tokens, std::min({total, static_cast<int>(known_tokens.size()), max_cached_tokens}) / bs);
  return true;
}

void KVCacheManager::cache_blocks(uint64_t req, std::span<const int32_t> known_tokens, int num_tokens) {
  auto it = tables_.find(req);
  if (it == tables_.end()) return;
  const int64_t room = static_cast<int64_t>(it->second.blocks.size()) * block_size();
  ROTOR_CHECK(num_tokens <= static_cast<int>(known_tokens.size()) && num_tokens <= room,
              "kv cache: request {}: caching {} tokens, {} known, blocks for {}", req, num_tokens, known_tokens.size(),
              room);
  cache_full_blocks(it->second, known_tokens, num_tokens / block_size());
}

void KVCacheManager::cache_full_blocks(Table& t, std::span<const int32_t> tokens, int num_full) {
  if (!caching_) return;
  const int bs = block_size();
  hash_blocks(t, tokens, num_full);
  for (int i = t.num_cached; i < num_full; ++i) {
    const BlockHash parent = i == 0 ? kRootBlockHash : t.hashes[i - 1];
    pool_.cache(t.blocks[i], t.hashes[i], parent, tokens.subspan(static_cast<size_t>(i) * bs, bs));
  }
  t.num_cached = std::max(t.num_cached, num_full);
}

void KVCacheManager::free(uint64_t req) {
  auto it = tables_.find(req);
  if (it == tables_.end()) return;
  std::vector<int32_t>& blocks = it->second.blocks;
  std::reverse(blocks.begin(), blocks.end());
  pool_.release(blocks);
  tables_.erase(it);
}

void KVCacheManager::free_held(uint64_t req, uint64_t key) {
  auto it = tables_.find(req);
  if (it == tables_.end()) return;
  std::vector<int32_t>& blocks = it->second.blocks;
  std::reverse(blocks.begin(), blocks.end());
  if (!blocks.empty()) held_.push_back({key, std::move(blocks)});
  tables_.erase(it);
}

void KVCacheManager::release_held(uint64_t key) {
  for (const Held& h : held_)
    if (h.key == key) pool_.release(h.blocks);
  std::erase_if(held_, [&](const Held& h) { return h.key == key; });
}

int KVCacheManager::num_held_blocks() const {
  int n = 0;
  for (const Held& h : held_) n += static_cast<int>(h.blocks.size());
  return n;
}

int KVCacheManager::num_held_blocks_to_free() const {
  std::unordered_map<int32_t, int> refs;
  for (const Held& h : held_)
    for (int32_t b : h.blocks) ++refs[b];
  return static_cast<int>(std::count_if(refs.begin(), refs.end(),
                                        [&](const auto& br) { return pool_.ref_count(br.first) == br.second; }));
}

std::span<const int32_t> KVCacheManager::block_table(uint64_t req) const {
  auto it = tables_.find(req);
  if (it == tables_.end()) return {};
  return it->second.blocks;
}

void KVCacheManager::check_consistency() const {
  pool_.check_consistency();
  std::vector<int> held(num_blocks(), 0);
  for (const auto& [req, t] : tables_)
    for (int32_t b : t.blocks) ++held[b];
  for (const Held& h : held_)
    for (int32_t b : h.blocks) ++held[b];
  for (int b = 0; b < num_blocks(); ++b)
    ROTOR_CHECK(held[b] == pool_.ref_count(b), "kv cache: block {} held by {} tables and holds, ref count {}", b,
                held[b], pool_.ref_count(b));
}

}  // namespace rotor
