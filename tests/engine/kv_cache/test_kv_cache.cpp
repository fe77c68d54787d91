// tests/engine/kv_cache/test_kv_cache.cpp — BlockPool and KVCacheManager: allocation and freeing, ref
// counts of shared blocks, prefix hits (full blocks only, never the last token), LRU
// eviction order, the all-or-nothing allocate, the collision guard, caching off, tables freed
// under a hold (kept from reuse until released), blocks offered to the cache only once written.
#include <gtest/gtest.h>

#include <numeric>

#include "core/error.h"
#include "engine/kv_cache/kv_cache_manager.h"

namespace rotor {
namespace {

std::vector<int32_t> seq(int n, int32_t start = 100) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

TEST(BlockPool, AllocateReleaseAndRefCounts) {
  BlockPool pool(8, 4);
  std::vector<int32_t> a;
  pool.allocate(3, a);
  EXPECT_EQ(a, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(pool.num_free_blocks(), 5);
  pool.touch(std::vector<int32_t>{1});
  EXPECT_EQ(pool.ref_count(1), 2);
  pool.release(a);
  EXPECT_EQ(pool.ref_count(1), 1);
  EXPECT_EQ(pool.num_free_blocks(), 7);
  pool.release(std::vector<int32_t>{1});
  EXPECT_EQ(pool.num_free_blocks(), 8);
  EXPECT_THROW(pool.release(std::vector<int32_t>{1}), Error);
  std::vector<int32_t> too_many;
  EXPECT_THROW(pool.allocate(9, too_many), Error);
  pool.check_consistency();
}

TEST(BlockPool, LookupComparesTokensAndParent) {
  BlockPool pool(4, 2);
  std::vector<int32_t> b;
  pool.allocate(1, b);
  const std::vector<int32_t> toks{5, 6};
  const BlockHash h = hash_block(kRootBlockHash, toks);
  pool.cache(b[0], h, kRootBlockHash, toks);
  EXPECT_EQ(pool.lookup(h, kRootBlockHash, toks), b[0]);
  // Same hash value, other tokens or another parent: a collision, not a hit.
  EXPECT_EQ(pool.lookup(h, kRootBlockHash, std::vector<int32_t>{5, 7}), -1);
  EXPECT_EQ(pool.lookup(h, 1234, toks), -1);
  EXPECT_EQ(pool.lookup(h + 1, kRootBlockHash, toks), -1);
  pool.check_consistency();
}

TEST(KVCacheManager, GrowsTablesAndFreesEverything) {
  KVCacheManager kv(10, 4, true);
  const auto t = seq(9);
  ASSERT_TRUE(kv.allocate(1, t, 0, 9));
  EXPECT_EQ(kv.block_table(1).size(), 3u);
  ASSERT_TRUE(kv.allocate(1, t, 9, 3));  // 12 tokens: still 3 blocks
  EXPECT_EQ(kv.block_table(1).size(), 3u);
  ASSERT_TRUE(kv.allocate(1, t, 12, 1));
  EXPECT_EQ(kv.block_table(1).size(), 4u);
  ASSERT_TRUE(kv.allocate(2, seq(20, 500), 0, 20));  // 5 more: 9 of 10 held
  EXPECT_FALSE(kv.allocate(3, seq(8, 900), 0, 8));  // needs 2, 1 free: nothing changes
  EXPECT_EQ(kv.num_free_blocks(), 1);
  EXPECT_TRUE(kv.block_table(3).empty());
  kv.check_consistency();
  kv.free(1);
  kv.free(2);
  kv.free(3);
  EXPECT_EQ(kv.num_free_blocks(), 10);
  kv.check_consistency();
}

TEST(KVCacheManager, PrefixHitsFullBlocksAndNeverTheLastToken) {
  KVCacheManager kv(16, 4, true);
  const auto a = seq(10);  // blocks [100..103] [104..107] full, [108, 109] partial
  ASSERT_TRUE(kv.allocate(1, a, 0, 10));
  const std::vector<int32_t> a_blocks(kv.block_table(1).begin(), kv.block_table(1).end());

  auto b = seq(8);
  b.push_back(7);
  b.push_back(7);
  auto hit = kv.find_prefix(2, b);
  EXPECT_EQ(hit.num_tokens, 8);
  EXPECT_EQ(hit.blocks, std::vector<int32_t>(a_blocks.begin(), a_blocks.begin() + 2));
  ASSERT_TRUE(kv.allocate(2, b, hit.num_tokens, 2, hit));
  EXPECT_EQ(kv.pool().ref_count(a_blocks[0]), 2);
  EXPECT_EQ(kv.prefix_hits(), 8u);

  // A prompt of exactly two blocks: only the first can be a hit (the last token is computed).
  const auto c = seq(8);
  hit = kv.find_prefix(3, c);
  EXPECT_EQ(hit.num_tokens, 4);
  // Another first token: the chain differs from the start.
  auto d = seq(10);
  d[0] = 1;
  EXPECT_EQ(kv.find_prefix(4, d).num_tokens, 0);
  kv.free(3);
  kv.free(4);

  // Freed cached blocks stay hits until evicted; shared ones survive one owner leaving.
  kv.free(1);
  EXPECT_EQ(kv.pool().ref_count(a_blocks[0]), 1);
  kv.free(2);
  EXPECT_EQ(kv.num_free_blocks(), 16);
  EXPECT_EQ(kv.find_prefix(5, a).num_tokens, 8);
  kv.free(5);
  kv.check_consistency();
}

TEST(KVCacheManager, EvictsLeastRecentlyFreedTailFirst) {
  KVCacheManager kv(6, 2, true);
  const auto a = seq(7);  // 3 full blocks + 1 partial = 4 blocks
  ASSERT_TRUE(kv.allocate(1, a, 0, 7));
  kv.free(1);  // free queue: 2 unused blocks, then a's blocks tail first
  // Take 3 blocks: the 2 never used, then a's last (partial, uncached) block.
  ASSERT_TRUE(kv.allocate(2, seq(6, 900), 0, 6));
  EXPECT_EQ(kv.find_prefix(3, a).num_tokens, 6);
  kv.free(3);
  // One more block evicts a's third block (the tail of what is cached), keeping the head.
  ASSERT_TRUE(kv.allocate(4, seq(2, 700), 0, 2));
  EXPECT_EQ(kv.find_prefix(5, a).num_tokens, 4);
  EXPECT_EQ(kv.pool().num_evictions(), 1u);
  kv.free(5);
  // A hit on free cached blocks counts them against the free blocks it needs.
  auto hit = kv.find_prefix(6, a);  // 2 cached blocks, both free
  ASSERT_EQ(hit.num_tokens, 4);
  EXPECT_EQ(kv.num_free_blocks(), 2);
  EXPECT_FALSE(kv.allocate(6, a, 4, 3, hit));  // needs the 2 hits + 2 fresh, 2 free
  EXPECT_TRUE(kv.allocate(6, a, 4, 0, hit));
  EXPECT_EQ(kv.num_free_blocks(), 0);
  kv.free(2);
  kv.free(4);
  kv.free(6);
  EXPECT_EQ(kv.num_free_blocks(), 6);
  kv.check_consistency();
}

TEST(KVCacheManager, OnlyKnownTokensAreCached) {
  KVCacheManager kv(8, 4, true);
  // Six known tokens, eight scheduled (two still being sampled): only block 0 is cacheable.
  ASSERT_TRUE(kv.allocate(1, seq(6), 0, 8));
  EXPECT_TRUE(kv.pool().is_cached(kv.block_table(1)[0]));
  EXPECT_FALSE(kv.pool().is_cached(kv.block_table(1)[1]));
  // Once known, the next allocation registers it.
  ASSERT_TRUE(kv.allocate(1, seq(9), 8, 1));
  EXPECT_TRUE(kv.pool().is_cached(kv.block_table(1)[1]));
  kv.free(1);
  kv.check_consistency();
}

TEST(KVCacheManager, BlocksCanJoinTheCacheOnceWritten) {
  KVCacheManager kv(8, 4, true);
  const auto a = seq(10);
  // Ten tokens handed out, none written yet: nothing is offered to the cache.
  ASSERT_TRUE(kv.allocate(1, a, 0, 10, {}, 0));
  EXPECT_EQ(kv.find_prefix(2, a).num_tokens, 0);
  kv.free(2);
  kv.cache_blocks(1, a, 7);  // the first 7 written: block 0
  EXPECT_TRUE(kv.pool().is_cached(kv.block_table(1)[0]));
  EXPECT_FALSE(kv.pool().is_cached(kv.block_table(1)[1]));
  kv.cache_blocks(1, a, 10);
  EXPECT_TRUE(kv.pool().is_cached(kv.block_table(1)[1]));
  EXPECT_EQ(kv.find_prefix(3, a).num_tokens, 8);
  kv.free(3);
  EXPECT_THROW(kv.cache_blocks(1, a, 11), Error);  // more than is known
  kv.cache_blocks(4, a, 10);                     // no blocks: nothing
  EXPECT_TRUE(kv.block_table(4).empty());
  kv.free(1);
  kv.check_consistency();
}

TEST(KVCacheManager, HeldTablesStayOutOfThePoolUntilReleased) {
  KVCacheManager kv(6, 4, true);
  const auto a = seq(10);
  ASSERT_TRUE(kv.allocate(1, a, 0, 10));  // 3 blocks, 2 of them cached
  auto hit = kv.find_prefix(2, a);
  ASSERT_EQ(hit.num_tokens, 8);
  ASSERT_TRUE(kv.allocate(2, a, 8, 2, hit));  // shares request 1's 2 cached blocks, 1 of its own
  EXPECT_EQ(kv.num_free_blocks(), 2);
  kv.free_held(1, 7);
  EXPECT_TRUE(kv.block_table(1).empty());
  EXPECT_EQ(kv.num_free_blocks(), 2);  // nothing came back
  EXPECT_EQ(kv.num_held_blocks(), 3);
  EXPECT_EQ(kv.num_held_blocks_to_free(), 1);  // the 2 shared blocks stay with request 2
  kv.check_consistency();
  EXPECT_FALSE(kv.allocate(3, seq(12, 500), 0, 12));  // needs 3: the held block is nobody's
  EXPECT_EQ(kv.find_prefix(4, a).num_tokens, 8);  // cached blocks under a hold still hit
  kv.release_held(6);  // another key: nothing
  EXPECT_EQ(kv.num_held_blocks(), 3);
  kv.release_held(7);
  EXPECT_EQ(kv.num_held_blocks(), 0);
  EXPECT_EQ(kv.num_free_blocks(), 3);
  EXPECT_TRUE(kv.allocate(3, seq(12, 500), 0, 12));
  kv.free(2);
  kv.free(3);
  kv.free(4);
  EXPECT_EQ(kv.num_free_blocks(), 6);
  kv.check_consistency();
}

TEST(KVCacheManager, CachingOff) {
  KVCacheManager kv(8, 4, false);
  ASSERT_TRUE(kv.allocate(1, seq(10), 0, 10));
  kv.free(1);
  EXPECT_EQ(kv.find_prefix(2, seq(10)).num_tokens, 0);
  EXPECT_FALSE(kv.pool().is_cached(0));
  EXPECT_EQ(kv.prefix_queries(), 0u);
  kv.check_consistency();
}

}  // namespace
}  // namespace rotor
