// bench/kernels_w8a8.h — the W8A8 rows of rotor_bench_kernels (kernels_w8a8.cpp).
#pragma once
#include "bench/kernel_timer.h"
#include "kernels/ops.h"
#include "model/config.h"

namespace rotor {

// Adds the W8A8 ops' rows for the shapes of config c: activation quantisation (decode batch
// and a 16k-row prefill), the int8 GEMM at decode rows (1, 8, batch) against the weight
// bytes, and at 2,048 and 16,384 rows against int8 tensor-core rates (wgmma and the mma.sync
// fallback), and the W8A8 experts at `batch` and at prefill sizes.
void w8a8_kernel_rows(Ops& ops, Timer& timer, KernelTable& table, const ModelConfig& c, int batch,
                      int prefill_tokens);

}  // namespace rotor
