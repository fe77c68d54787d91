// kernels/cuda/wgmma_down_i8.cu — the W8A8 experts' down GEMM with each tile's int8 h
// resident in shared memory (wgmma_down_i8.cuh).
//
// Work unit = (tile of 128 expert-sorted rows, N-block of 128 output columns); one block an SM,
// each an equal share of the units (Share: whole tiles round-robin, then a run of the last
// tiles' units, so no SM idles through a last partial wave). A tile's K bytes a row stay in
// shared memory for all of its units in the block's share (K / 128 128-byte-swizzled panels of
// 128 rows), so per 128 x 128 x 128 products only a 16 KB W panel comes from L2, where the
// two-blocks-an-SM tiles read A's 16 KB beside it (L2 bandwidth is what holds those near 0.6
// POP/s). Three roles:
//   - a producer warpgroup copies, in order, the W panels of each unit (step = unit * panels +
//     K-step) into a ring of kStages stages, and each new tile's rows into the panels once both
//     consumers have finished their products on the old one (a_empty), panel by panel
//     (a_full); cp.async, each copy batch signalling its barrier as it lands.
//   - two consumer warpgroups take alternate units of the share (warpgroup g: units g, g + 2,
//     ...), each a 128 x 128 s32 accumulator (two m64n128k32 row halves, 128 registers a
//     thread), and take turns on the tensor cores (named barriers 1 and 2: a unit's products
//     start once the previous unit's are done), so one's epilogue runs under the other's products.
//   - the epilogue dequantises as the CPU does (w8a8_math.cuh) and sends bf16 rows of y by slot
//     through an 8-row-a-warp staging area, a row's 256 bytes as whole 16-byte stores.
// Every output is the exact s32 sum dequantised once, so the bits equal the other int8 paths'.
#include <algorithm>

#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/w8a8_math.cuh"
#include "kernels/cuda/wgmma.cuh"
#include "kernels/cuda/wgmma_down_i8.cuh"

namespace rotor::cuda {
namespace {

constexpr int kRows = 128;                  // tile rows (the MoE align's 128-row tiles)
constexpr int kCols = 128;                  // output columns (W rows) of one unit
constexpr int kPanel = kRows * 128;         // bytes of 128 rows x 128 bytes of K: an A panel or a W stage
constexpr int kMaxPanels = 6;               // K <= 768 fits beside the ring
constexpr int kStages = 6;                  // W panels in the ring
constexpr int kConsumers = 256;             // two warpgroups
constexpr int kThreads = kConsumers + 128;  // and the producer warpgroup
constexpr int kOutRows = 8;                 // staged rows a warp at a time
constexpr int kOutBytes = 8 * kOutRows * kCols * 2;  // the staging: 8 warps x 8 bf16 rows
// Registers after setmaxnreg: 56 + 2 x 224 = 504 <= 3 x 168, what the launch gives each thread
// (the producer spills at 40).
constexpr int kProducerRegs = 56, kConsumerRegs = 224;

constexpr int smem_bytes(int panels) { return (panels + kStages) * kPanel + kOutBytes + 1024; }
// With the static barriers and three TileRows, within the 227 KB a block may have.
static_assert(smem_bytes(kMaxPanels) + 4096 <= 227 * 1024, "the resident tile, the ring and the staging fit");

// The arrival of this thread's earlier cp.async copies, on bar as they land (the barrier's
// count includes it: noinc).
__device__ __forceinline__ void cp_async_arrive(uint64_t* bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}

// Block b's share of the T tiles' units, in the order it runs them: whole tiles b, b + G, ...
// (q = T / G of them: at any time the G blocks work on neighbouring tiles, mostly of one
// expert, so each expert's W is read from DRAM about once), then an equal run of the units of
// the last T - q G tiles (so the blocks finish together).
struct Share {
  int nblocks;   // units a tile (N-blocks of 128 columns)
  int b, G, q;   // this block, the blocks, whole tiles a block
  int64_t t0;    // the last tiles' first unit of this block's run (counted from tile q G)
  int n;         // units in all
  __device__ Share(int num_tiles, int N, int block, int blocks) : nblocks((N + kCols - 1) / kCols), b(block), G(blocks) {
    q = num_tiles / G;
    const int64_t rest = static_cast<int64_t>(num_tiles - q * G) * nblocks;
    t0 = rest * b / G;
    n = q * nblocks + static_cast<int>(rest * (b + 1) / G - t0);
  }
  // Unit i's place among the last tiles' units (i >= q nblocks).
  __device__ int64_t rest_unit(int i) const { return t0 + (i - q * nblocks); }
  __device__ int64_t tile(int i) const {
    return i < q * nblocks ? static_cast<int64_t>(i / nblocks) * G + b : int64_t{q} * G + rest_unit(i) / nblocks;
  }
  __device__ int nb(int i) const { return i < q * nblocks ? i % nblocks : static_cast<int>(rest_unit(i) % nblocks); }
  // Which tile of the share (tiles only grow with i, one step at a time).
  __device__ int gen(int i) const {
    return i < q * nblocks ? i / nblocks : q + static_cast<int>(rest_unit(i) / nblocks - t0 / nblocks);
  }
};

// A tile's slots and row scales in shared memory, for the consumers' epilogues (three of them,
// by the share's tile index % 3: the producer fills one while epilogues may still read the two
// before).
struct TileRows {
  int32_t slot[kRows];
  float scale[kRows];
};

// Producer thread p: tile t's slots and row scales into rows (threads 0..63), then its rows of
// h into the panels, 16-byte unit p % 8 of rows p / 8 + 16 i of each, panel by panel, each
// signalling a_full[panel] as it lands (padding rows and bytes past K zero-filled).
__device__ __forceinline__ void copy_a(const Gemm8Args& a, int64_t t, uint8_t* sa, int panels, TileRows& rows,
                                       uint64_t* a_full, int p) {
  if (p < 32) cp_async16(rows.slot + 4 * p, a.sorted + t * kRows + 4 * p, true);
  else if (p < 64) cp_async16(rows.scale + 4 * (p - 32), a.a_scales + t * kRows + 4 * (p - 32), true);
  const int c = p % 8;
  const int8_t* src[kRows / 16];
  bool ok[kRows / 16];
#pragma unroll
  for (int i = 0; i < kRows / 16; ++i) {
    const int r = p / 8 + 16 * i;
    ok[i] = __ldg(a.sorted + t * kRows + r) >= 0;
    src[i] = a.A + (t * kRows + r) * a.lda + c * 16;
  }
  for (int panel = 0; panel < panels; ++panel) {
    const int k = panel * 128 + c * 16;
#pragma unroll
    for (int i = 0; i < kRows / 16; ++i)
      cp_async16(sa + panel * kPanel + swz128(p / 8 + 16 * i, c), ok[i] && k < a.K ? src[i] + panel * 128 : a.A,
                 ok[i] && k < a.K);
    cp_async_arrive(&a_full[panel]);
  }
}

// Producer thread p: the W steps of unit i of the share (step i * panels + K-step) into their
// ring stages, each once its stage is free, 16-byte unit p % 8 of W rows p / 8 + 16 r; rows past
// N and bytes past K zero-filled.
__device__ __forceinline__ void copy_w(const Gemm8Args& a, const Share& sh, uint8_t* ring, int panels, int i,
                                       uint64_t* full, uint64_t* empty, int p) {
  const int c = p % 8, n0 = sh.nb(i) * kCols;
  const int8_t* W = a.W + static_cast<int64_t>(__ldg(a.tile_expert + sh.tile(i))) * a.w_expert_stride;
  for (int kt = 0; kt < panels; ++kt) {
    const int s = i * panels + kt, st = s % kStages, k = kt * 128 + c * 16;
    if (s >= kStages) mbar_wait(&empty[st], (s / kStages - 1) & 1);
    uint8_t* dst = ring + st * kPanel;
#pragma unroll
    for (int r = 0; r < kCols / 16; ++r) {
      const int j = p / 8 + 16 * r, n = n0 + j;
      const bool ok = n < a.N && k < a.K;
      cp_async16(dst + swz128(j, c), ok ? W + static_cast<int64_t>(n) * a.K + k : W, ok);
    }
    cp_async_arrive(&full[st]);
  }
}

// One row half (h: tile rows 64 h ..) of a consumer's accumulator to y, in two passes of 8 rows
// a warp: the bf16 values into the warp's staging rows (row rho = lane / 4, its 16-byte unit j
// at j ^ rho: a warp's pair stores fall in 32 banks), then each row's 256 bytes to y[slot] at
// column n0. Tile rows 64 h + 16 warp + 8 half + rho; tile_slots: the slots of the half's 64
// rows (shared memory).
__device__ __forceinline__ void store_half(const Gemm8Args& a, const int (&acc)[64], const float (&cs)[32],
                                           const double (&hs)[2], const int32_t* tile_slots, uint8_t* stage, int n0) {
  const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32, u = lane % 16;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int32_t* slots = tile_slots + 16 * warp + 8 * half;
    int slot[kOutRows / 2];  // rows 2 it + lane / 16 of the pass
#pragma unroll
    for (int it = 0; it < kOutRows / 2; ++it) slot[it] = slots[2 * it + lane / 16];
    const int rho = lane / 4;
    uint8_t* row = stage + rho * (kCols * 2) + 4 * (lane % 4);
#pragma unroll
    for (int j = 0; j < kCols / 8; ++j)
      *reinterpret_cast<__nv_bfloat162*>(row + ((j ^ rho) << 4)) =
          __floats2bfloat162_rn(dequant_dynamic_d(acc[4 * j + 2 * half], cs[2 * j], hs[half]),
                                dequant_dynamic_d(acc[4 * j + 2 * half + 1], cs[2 * j + 1], hs[half]));
    __syncwarp();
#pragma unroll
    for (int it = 0; it < kOutRows / 2; ++it) {
      const int r = 2 * it + lane / 16;
      if (slot[it] >= 0 && n0 + 8 * u < a.N)
        *reinterpret_cast<uint4*>(a.y + static_cast<int64_t>(slot[it]) * a.N + n0 + 8 * u) =
            *reinterpret_cast<const uint4*>(stage + r * (kCols * 2) + ((u ^ r) << 4));
    }
    __syncwarp();  // the staging rows are read before the next pass writes them
  }
}

__global__ void __launch_bounds__(kThreads, 1) down_resident_kernel(const Gemm8Args a) {
  pdl_wait();
  pdl_launch_dependents();
  extern __shared__ __align__(16) uint8_t smem_raw[];
  __shared__ uint64_t full[kStages], empty[kStages], a_full[kMaxPanels], a_empty;
  __shared__ __align__(16) TileRows rows[3];
  const uint32_t raw = smem_addr(smem_raw);
  uint8_t* smem = smem_raw + ((1024 - (raw & 1023)) & 1023);
  const int panels = (a.K + 127) / 128;
  uint8_t* sa = smem;                      // [panels][128 rows][128 B]: the current tile's rows of h
  uint8_t* ring = sa + panels * kPanel;    // [kStages][128 W rows][128 B]
  uint8_t* out = ring + kStages * kPanel;  // [8 consumer warps][8 rows][256 B]: bf16 rows on their way to y
  const Share sh(*a.num_tiles, a.N, blockIdx.x, gridDim.x);
  if (sh.n == 0) return;
  const int tid = threadIdx.x, lane = tid % 32;
  if (tid == 0) {
    for (int st = 0; st < kStages; ++st) {
      mbar_init(&full[st], 128);  // the producer's threads, as their copies land
      mbar_init(&empty[st], 4);   // the consuming warpgroup's warps, once its products have read the stage
    }
    for (int p = 0; p < kMaxPanels; ++p) mbar_init(&a_full[p], 128);
    mbar_init(&a_empty, 8);  // every consumer warp, done with a tile's products
  }
  __syncthreads();

  if (tid >= kConsumers) {
    // Producer: tile 0's rows; then per tile of the share, the W steps of its units and of the
    // next tile's first unit, then (once both consumers are done with this tile) the next rows.
    setmaxnreg_dec<kProducerRegs>();
    const int p = tid - kConsumers;
    copy_a(a, sh.tile(0), sa, panels, rows[0], a_full, p);
    int w = 0;  // the next unit whose W steps to copy
    for (int i = 0; i < sh.n;) {
      const int g = sh.gen(i);
      int last = i;  // the tile's last unit in the share
      while (last + 1 < sh.n && sh.gen(last + 1) == g) ++last;
      for (; w <= min(last + 1, sh.n - 1); ++w) copy_w(a, sh, ring, panels, w, full, empty, p);  // and the next tile's first
      if (last + 1 < sh.n) {
        mbar_wait(&a_empty, g & 1);
        copy_a(a, sh.tile(last + 1), sa, panels, rows[(g + 1) % 3], a_full, p);
      }
      i = last + 1;
    }
    cp_async_wait<0>();
    return;
  }

  // Consumers: thread rows 64 h + 16 warp + lane / 4 + 8 half of the tile (h: the accumulator).
  setmaxnreg_inc<kConsumerRegs>();
  const int wg = tid / 128, warp = (tid / 32) % 4;
  const uint64_t desc_a0 = wgmma_desc(sa, 0, 1024), desc_a1 = wgmma_desc(sa + 64 * 128, 0, 1024);
  const uint64_t desc_w = wgmma_desc(ring, 0, 1024);
  uint8_t* stage = out + (tid / 32) * (kOutRows * kCols * 2);
  // Tiles this warpgroup is done with: all before the tile of its next unit (a_empty counts one
  // arrival a warp a tile; the producer reloads the rows once both warpgroups' are in).
  int released = 0;
  auto release_before = [&](int next) {
    const int upto = next < sh.n ? sh.gen(next) : sh.gen(sh.n - 1) + 1;
    for (; released < upto; ++released)
      if (lane == 0) mbar_arrive(&a_empty);
  };
  release_before(wg);
  int acc0[64], acc1[64];  // rows 16 warp + lane / 4 + 8 (i / 2) of half 0 / 1, column 8 j + 2 (lane % 4) + i % 2 at 4 j + i
  for (int i = wg; i < sh.n; i += 2) {
    if (i > 0) named_bar_sync(1 + wg, 2 * 128);  // unit i - 1's products are done
    const int64_t t = sh.tile(i);
    const int g = sh.gen(i), n0 = sh.nb(i) * kCols;
    const int e = __ldg(a.tile_expert + t);
    float cs[32];  // weight scales of columns n0 + 8 j + 2 (lane % 4) + {0, 1} at 2 j + {0, 1}
    const float* ws = a.w_scales + static_cast<int64_t>(e) * a.ws_expert_stride;
#pragma unroll
    for (int j = 0; j < kCols / 8; ++j)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int col = n0 + 8 * j + 2 * (lane % 4) + c;
        cs[2 * j + c] = col < a.N ? __ldg(ws + col) : 0.0f;
      }
    // The tile's slots and row scales have landed with its first panel.
    mbar_wait(&a_full[0], g & 1);
    const TileRows& tr = rows[g % 3];
    // Whether rows 64.. hold a real row (padding ends an expert's rows; row 0 of a tile in use
    // is real): a half of padding issues no products. Read from lane 0 so that ptxas sees
    // warp-uniform branches around the products.
    const bool act1 = __shfl_sync(0xffffffffu, tr.slot[64] >= 0, 0);
    double hs[2][2];
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int r = 64 * h + 16 * warp + lane / 4 + 8 * half;
        hs[h][half] = tr.slot[r] >= 0 ? static_cast<double>(tr.scale[r]) : 0.0;
      }
#pragma unroll
    for (int j = 0; j < 64; ++j) acc0[j] = acc1[j] = 0;
    for (int kt = 0; kt < panels; ++kt) {
      const int s = i * panels + kt, st = s % kStages;
      if (kt > 0) mbar_wait(&a_full[kt], g & 1);
      mbar_wait(&full[st], (s / kStages) & 1);
      fence_proxy_async();
      const uint64_t astep = static_cast<uint64_t>(kt * kPanel) >> 4, wstep = static_cast<uint64_t>(st * kPanel) >> 4;
      if (act1) {
        fence_regs(acc0);
        fence_regs(acc1);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
          wgmma_m64n128k32_s8_ss(acc0, desc_a0 + astep + 2 * kk, desc_w + wstep + 2 * kk, 1);
          wgmma_m64n128k32_s8_ss(acc1, desc_a1 + astep + 2 * kk, desc_w + wstep + 2 * kk, 1);
        }
        wgmma_commit();
      } else {
        fence_regs(acc0);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) wgmma_m64n128k32_s8_ss(acc0, desc_a0 + astep + 2 * kk, desc_w + wstep + 2 * kk, 1);
        wgmma_commit();
      }
      wgmma_wait<1>();  // step s - 1's products are done: its stage is free
      fence_regs(acc0);
      fence_regs(acc1);
      if (kt > 0 && lane == 0) mbar_arrive(&empty[(s - 1) % kStages]);
    }
    wgmma_wait<0>();
    fence_regs(acc0);
    fence_regs(acc1);
    if (lane == 0) mbar_arrive(&empty[(i * panels + panels - 1) % kStages]);
    release_before(i + 2);
    if (i + 1 < sh.n) named_bar_arrive(2 - wg, 2 * 128);  // the other warpgroup's turn
    store_half(a, acc0, cs, hs[0], tr.slot, stage, n0);
    if (act1) store_half(a, acc1, cs, hs[1], tr.slot + 64, stage, n0);
  }
}

}  // namespace

bool wgmma_i8_down_resident_fits(int K) { return K > 0 && K <= kMaxPanels * 128; }

cudaError_t wgmma_i8_down_resident(const Gemm8Args& a, unsigned max_tiles, int num_sms, cudaStream_t stream) {
  if (a.K % 16 != 0 || a.lda % 16 != 0 || !wgmma_i8_down_resident_fits(a.K) || num_sms <= 0)
    return cudaErrorInvalidValue;
  const cudaError_t attr = raise_smem_limit(down_resident_kernel, smem_bytes(kMaxPanels));
  if (attr != cudaSuccess) return attr;
  const int64_t units = static_cast<int64_t>(max_tiles) * ((a.N + kCols - 1) / kCols);
  if (units == 0) return cudaSuccess;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(num_sms, units));
  return launch(down_resident_kernel, dim3(grid), dim3(kThreads), smem_bytes((a.K + 127) / 128), stream, a);
}

}  // namespace rotor::cuda
