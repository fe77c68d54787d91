// kernels/cuda/wgmma.cuh — Hopper (sm_90a) warpgroup tensor-core products: shared-memory
// matrix descriptors for the 128-byte-swizzled layout, wgmma.mma_async m64n128k16 and
// m64n256k16 (bf16 in, f32 accumulate; m64n128k16 also f16 in) with both operands in shared
// memory, m64n128k16 with A in registers, m64n256k32 (s8 in, s32 accumulate, both K-major in shared memory: a panel row
// of 128 int8 is laid out as one of 64 bf16), and the fences around them; plus the shared-memory barriers (mbarrier) and
// register reallocation (setmaxnreg) and named barriers that let warpgroups of one block take different roles.
// A warpgroup is 4 consecutive warps (128 threads); every thread of it must execute the
// products together.
//
// Shared-memory layout (both K-major and MN-major operands): a tile is stored as column
// panels of 64 bf16 (128 bytes); a panel is [rows][128 B] with 16-byte unit u of row r at
// u ^ (r % 8) (swz128 below); a panel must start at a 1024-byte-aligned address.
//   K-major operand (rows = M or N, 16 K values per instruction inside one panel): the
//     descriptor starts at (panel base + row0 * 128 + k_in_panel * 2 bytes); 8-row groups are
//     1024 bytes apart (stride byte offset); the leading byte offset is unused.
//   MN-major operand (rows = K, panel columns = N): the descriptor starts at (panel 0 base +
//     k0 * 128); 8-row (K) groups are 1024 bytes apart (stride byte offset); panel p + 1 (the
//     next 64 N) is leading-byte-offset bytes after panel p.
// Accumulator fragment (m64nN, f32) of thread t: warp w = (t / 32) % 4 owns rows 16w..16w+15;
// d[4j + e] is row 16w + lane / 4 + 8 (e / 2), column 8j + 2 (lane % 4) + e % 2 — per warp
// the mma.m16n8k16 C layout, repeated over the N / 8 column blocks. A register fragment
// (m64k16): per warp the mma.m16n8k16 A layout, so accumulators of one product convert to
// the A operand of the next with pack_bf16 (FlashAttention's P = softmax(S) -> P V).
#pragma once
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace rotor::cuda {

// Byte offset of 16-byte unit u (0..7) of row r inside a 128-byte-swizzled panel.
__device__ __forceinline__ int swz128(int r, int u) { return r * 128 + ((u ^ (r & 7)) << 4); }

// Descriptor of a 128-byte-swizzled operand at smem_ptr (see the layout above).
__device__ __forceinline__ uint64_t wgmma_desc(const void* smem_ptr, uint32_t lead_bytes, uint32_t stride_bytes) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_ptr));
  uint64_t d = (addr & 0x3FFFF) >> 4;
  d |= static_cast<uint64_t>((lead_bytes >> 4) & 0x3FFF) << 16;
  d |= static_cast<uint64_t>((stride_bytes >> 4) & 0x3FFF) << 32;
  d |= 1ull << 62;  // 128-byte swizzle
  return d;
}

// Orders register writes to accumulators / A fragments before the products that read them.
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
// Waits until at most N committed groups of this warpgroup are still running.
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Makes this thread's generic-proxy shared-memory writes (st.shared, cp.async) visible to
// wgmma's reads; follow with a barrier.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Pins a register at this point of the program: the compiler may not move reads or writes of
// it across (used around a product's issue and wait, which it cannot see through).
__device__ __forceinline__ void fence_reg(float& r) { asm volatile("" : "+f"(r)::"memory"); }
__device__ __forceinline__ void fence_reg(uint32_t& r) { asm volatile("" : "+r"(r)::"memory"); }
__device__ __forceinline__ void fence_reg(int& r) { asm volatile("" : "+r"(r)::"memory"); }
template <int N>
__device__ __forceinline__ void fence_regs(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) fence_reg(r[i]);
}
template <int N>
__device__ __forceinline__ void fence_regs(int (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) fence_reg(r[i]);
}

// ---- shared-memory barriers: a phase completes when `count` arrivals have happened; waiters
// name the phase by its parity (0, 1, 0, ...). ----
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void mbar_init(uint64_t* bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count) : "memory");
}
// Release: this thread's earlier shared-memory writes are visible to the phase's waiters.
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t* bar, int parity) {
  asm volatile(
      "{\n.reg .pred p;\nWAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@!p bra WAIT;\n}\n" ::"r"(smem_addr(bar)),
      "r"(parity)
      : "memory");
}
// Named barrier id (1..15; 0 is __syncthreads') over count threads (a multiple of 32): sync
// waits for the phase to complete, arrive only counts towards it (warpgroups taking turns).
__device__ __forceinline__ void named_bar_sync(int id, int count) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
__device__ __forceinline__ void named_bar_arrive(int id, int count) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
// Gives registers back to (dec) or takes them from (inc) the block's pool, per warpgroup.
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}

// Operand lists of the products: the accumulator registers %0.. in the instruction text and
// their "+f" bindings d[0]..
#define ROTOR_WGMMA_REGS64 \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define ROTOR_WGMMA_REGS128 \
  ROTOR_WGMMA_REGS64 ", " \
  "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, " \
  "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, " \
  "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
  "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
#define ROTOR_WGMMA_ACC8(d, i)                                                                        \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
      "+f"(d[i + 6]), "+f"(d[i + 7])
#define ROTOR_WGMMA_ACC64(d)                                                                       \
  ROTOR_WGMMA_ACC8(d, 0), ROTOR_WGMMA_ACC8(d, 8), ROTOR_WGMMA_ACC8(d, 16), ROTOR_WGMMA_ACC8(d, 24), \
      ROTOR_WGMMA_ACC8(d, 32), ROTOR_WGMMA_ACC8(d, 40), ROTOR_WGMMA_ACC8(d, 48), ROTOR_WGMMA_ACC8(d, 56)
#define ROTOR_WGMMA_ACC128(d)                                                                        \
  ROTOR_WGMMA_ACC64(d), ROTOR_WGMMA_ACC8(d, 64), ROTOR_WGMMA_ACC8(d, 72), ROTOR_WGMMA_ACC8(d, 80),    \
      ROTOR_WGMMA_ACC8(d, 88), ROTOR_WGMMA_ACC8(d, 96), ROTOR_WGMMA_ACC8(d, 104), ROTOR_WGMMA_ACC8(d, 112), \
      ROTOR_WGMMA_ACC8(d, 120)

#define ROTOR_WGMMA_IACC8(d, i)                                                                       \
  "+r"(d[i]), "+r"(d[i + 1]), "+r"(d[i + 2]), "+r"(d[i + 3]), "+r"(d[i + 4]), "+r"(d[i + 5]), \
      "+r"(d[i + 6]), "+r"(d[i + 7])
#define ROTOR_WGMMA_IACC64(d)                                                                           \
  ROTOR_WGMMA_IACC8(d, 0), ROTOR_WGMMA_IACC8(d, 8), ROTOR_WGMMA_IACC8(d, 16), ROTOR_WGMMA_IACC8(d, 24), \
      ROTOR_WGMMA_IACC8(d, 32), ROTOR_WGMMA_IACC8(d, 40), ROTOR_WGMMA_IACC8(d, 48), ROTOR_WGMMA_IACC8(d, 56)
#define ROTOR_WGMMA_IACC128(d)                                                                            \
  ROTOR_WGMMA_IACC64(d), ROTOR_WGMMA_IACC8(d, 64), ROTOR_WGMMA_IACC8(d, 72), ROTOR_WGMMA_IACC8(d, 80),     \
      ROTOR_WGMMA_IACC8(d, 88), ROTOR_WGMMA_IACC8(d, 96), ROTOR_WGMMA_IACC8(d, 104), ROTOR_WGMMA_IACC8(d, 112), \
      ROTOR_WGMMA_IACC8(d, 120)

// d (+)= A . B^T, A [64 x 16] and B [128 x 16] both K-major in shared memory; scale_d = 0
// overwrites d. F16: f16 inputs (attention over an e4m3 KV cache).
template <bool F16 = false>
__device__ __forceinline__ void wgmma_m64n128k16_ss(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  if constexpr (F16) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
        ROTOR_WGMMA_REGS64
        "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        : ROTOR_WGMMA_ACC64(d)
        : "l"(desc_a), "l"(desc_b), "r"(scale_d));
  } else {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
        ROTOR_WGMMA_REGS64
        "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        : ROTOR_WGMMA_ACC64(d)
        : "l"(desc_a), "l"(desc_b), "r"(scale_d));
  }
}

// d (+)= A . B^T, A [64 x 16] and B [256 x 16] both K-major in shared memory; scale_d = 0
// overwrites d.
__device__ __forceinline__ void wgmma_m64n256k16_ss(float (&d)[128], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
      ROTOR_WGMMA_REGS128
      "}, %128, %129, p, 1, 1, 0, 0;\n}\n"
      : ROTOR_WGMMA_ACC128(d)
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

// d += A . B, A [64 x 16] in registers (fragment above), B [16 x 128] MN-major in shared memory.
// F16: f16 inputs.
template <bool F16 = false>
__device__ __forceinline__ void wgmma_m64n128k16_rs_mn(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b) {
  if constexpr (F16) {
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
        ROTOR_WGMMA_REGS64
        "}, {%64, %65, %66, %67}, %68, 1, 1, 1, 1;\n"
        : ROTOR_WGMMA_ACC64(d)
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
  } else {
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
        ROTOR_WGMMA_REGS64
        "}, {%64, %65, %66, %67}, %68, 1, 1, 1, 1;\n"
        : ROTOR_WGMMA_ACC64(d)
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
  }
}

// d (+)= A . B^T in int8 (exact s32 sums), A [64 x 32] and B [256 x 32] both K-major in shared
// memory (32 bytes of each row, as the bf16 k16 form); scale_d = 0 overwrites d. The s32
// accumulator fragment is the f32 one above.
__device__ __forceinline__ void wgmma_m64n256k32_s8_ss(int (&d)[128], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 {"
      ROTOR_WGMMA_REGS128
      "}, %128, %129, p;\n}\n"
      : ROTOR_WGMMA_IACC128(d)
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

// d (+)= A . B^T in int8, A [64 x 32] and B [128 x 32] both K-major in shared memory: the
// m64n256k32 form above on half the columns (64 s32 registers a thread).
__device__ __forceinline__ void wgmma_m64n128k32_s8_ss(int (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {"
      ROTOR_WGMMA_REGS64
      "}, %64, %65, p;\n}\n"
      : ROTOR_WGMMA_IACC64(d)
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

}  // namespace rotor::cuda
