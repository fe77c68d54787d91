// tests/bench/test_roofline.cpp — the decode roofline's arithmetic (bench/roofline.h) against
// the numbers ../shared/docs/BENCHMARK.md works out by hand (read-only HBM 4.24 TB/s, mean
// context 17,408) and those issue 21 quotes for the benchmark's own runs.
#include <gtest/gtest.h>

#include <string>

#include "bench/roofline.h"

namespace rotor {
namespace {

ModelConfig shared(const std::string& name) {
  return ModelConfig::load(std::string(ROTOR_SHARED_DIR) + "/configs/" + name + "/config.json");
}

constexpr double kHbm = 4.24e12;

// Qwen3-30B-A3B, 48 layers, H 2048, I 768, 128 experts (top 8), 32 q / 4 KV heads of 128.
TEST(Roofline, Qwen3_30B_A3B) {
  const ModelConfig c = shared("qwen3-30b-a3b");
  // Batch 32: 128 (1 - (120/128)^32) = 111.78 experts touched; each 3 x 2048 x 768 x 2 B =
  // 9.437 MB: 50.63 GB over 48 layers; dense 48 x (2048 x 5120 + 4096 x 2048 + 128 x 2048) x
  // 2 B + lm_head 151936 x 2048 x 2 B = 2.459 GB; KV 32 x 17408 x 48 x 2 x 4 x 128 x 2 B =
  // 54.76 GB: 107.9 GB, 25.4 ms.
  DecodeBytes b = decode_step_bytes(c, {32, 17408, 1, 2, 2});
  EXPECT_NEAR(b.touched, 111.78, 0.01);
  EXPECT_NEAR(b.experts / 1e9, 50.63, 0.01);
  EXPECT_NEAR(b.dense / 1e9, 2.459, 0.001);
  EXPECT_NEAR(b.kv / 1e9, 54.76, 0.01);
  EXPECT_NEAR(b.total() / 1e9, 107.9, 0.05);
  EXPECT_NEAR(roofline_ms(b.total(), kHbm), 25.4, 0.05);
  // W8A8: experts and q/k/v/o at 1 B, router and lm_head bf16: 25.32 + 0.906 + 0.025 + 0.622
  // + 54.76 = 81.6 GB, 19.3 ms.
  b = decode_step_bytes(c, {32, 17408, 1, 1, 2});
  EXPECT_NEAR(b.total() / 1e9, 81.6, 0.05);
  EXPECT_NEAR(roofline_ms(b.total(), kHbm), 19.3, 0.05);
  // Batch 1 (8 experts): bf16 3.624 + 2.459 + 1.711 GB = 1.84 ms; W8A8 1.20 ms.
  EXPECT_NEAR(roofline_ms(decode_step_bytes(c, {1, 17408, 1, 2, 2}).total(), kHbm), 1.84, 0.005);
  EXPECT_NEAR(roofline_ms(decode_step_bytes(c, {1, 17408, 1, 1, 2}).total(), kHbm), 1.20, 0.005);
  // fp8 KV halves the KV bytes: BENCHMARK's 52.7 tok/s per request for bf16 weights.
  EXPECT_NEAR(1e3 / roofline_ms(decode_step_bytes(c, {32, 17408, 1, 2, 1}).total(), kHbm), 52.7, 0.1);
  // Issue 21: the first 8 layers at batch 1, the benchmark's mean context 16,412 (16,384 + 3
  // warm-up steps + 50 / 2), copy ceiling 4.267 TB/s: 0.604 + 0.928 + 0.269 GB = 0.42 ms.
  ModelConfig c8 = c;
  c8.num_layers = 8;
  EXPECT_NEAR(roofline_ms(decode_step_bytes(c8, {1, 16412, 1, 2, 2}).total(), 4.267e12), 0.422, 0.002);
}

// Qwen3-235B-A22B, 94 layers, H 4096, I 1536, 128 experts (top 8), 64 q / 4 KV heads of 128;
// every rank reads its router, KV heads replicated to one per rank past 4.
TEST(Roofline, Qwen3_235B_A22B_TensorParallel) {
  const ModelConfig c = shared("qwen3-235b-a22b-instruct-2507");
  // W8A8 TP 8, batch 32: experts 111.78 x 3 x 4096 x 1536 x 1 B x 94 = 198.3 GB; dense 94 x
  // (4096 x (8192 + 2 x 8 x 128) + 8192 x 4096) x 1 B + 94 x 8 routers x 128 x 4096 x 2 B +
  // lm_head 1.245 GB = 9.12 GB; KV 32 x 17408 x 94 x 2 x 8 x 128 x 2 B = 214.4 GB: 421.8 GB,
  // per GPU 52.7 GB, 12.4 ms.
  DecodeBytes b = decode_step_bytes(c, {32, 17408, 8, 1, 2});
  EXPECT_NEAR(b.experts / 1e9, 198.3, 0.1);
  EXPECT_NEAR(b.dense / 1e9, 9.12, 0.01);
  EXPECT_NEAR(b.kv / 1e9, 214.4, 0.1);
  EXPECT_NEAR(b.total() / 8 / 1e9, 52.7, 0.05);
  EXPECT_NEAR(roofline_ms(b.total() / 8, kHbm), 12.4, 0.05);
  // bf16 TP 8: 78.4 GB per GPU; W8A8 TP 4 (KV heads not replicated): 78.5 GB per GPU.
  EXPECT_NEAR(decode_step_bytes(c, {32, 17408, 8, 2, 2}).total() / 8 / 1e9, 78.4, 0.05);
  EXPECT_NEAR(decode_step_bytes(c, {32, 17408, 4, 1, 2}).total() / 4 / 1e9, 78.5, 0.05);
  // Batch 1: W8A8 TP 8 0.89 ms per GPU, TP 4 1.53 ms.
  EXPECT_NEAR(roofline_ms(decode_step_bytes(c, {1, 17408, 8, 1, 2}).total() / 8, kHbm), 0.89, 0.005);
  EXPECT_NEAR(roofline_ms(decode_step_bytes(c, {1, 17408, 4, 1, 2}).total() / 4, kHbm), 1.53, 0.005);
}

// One TP-8 rank's shapes as a model of its own (../shared/configs/qwen3-235b-a22b-tp8-rank: 8 q
// heads, 1 KV head, I 192, the whole vocabulary), issue 21's batch-1 roofline at 4.2 TB/s:
// experts 8 x 3 x 4096 x 192 x 2 B x 94 = 3.549 GB, dense 94 x 19.92 MB + 1.245 GB = 3.118 GB,
// KV 16412 x 94 x 2 x 128 x 2 B = 0.790 GB: 7.457 GB, 1.77 ms.
TEST(Roofline, Qwen3_235B_A22B_OneTp8Rank) {
  const ModelConfig c = shared("qwen3-235b-a22b-tp8-rank");
  const DecodeBytes b = decode_step_bytes(c, {1, 16412, 1, 2, 2});
  EXPECT_NEAR(b.experts / 1e9, 3.549, 0.001);
  EXPECT_NEAR(b.dense / 1e9, 3.118, 0.001);
  EXPECT_NEAR(b.kv / 1e9, 0.790, 0.001);
  EXPECT_NEAR(roofline_ms(b.total(), 4.2e12), 1.775, 0.005);
}

}  // namespace
}  // namespace rotor
