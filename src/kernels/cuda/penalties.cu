// kernels/cuda/penalties.cu — one block per row. Each distinct token of the prompt and the
// output must be penalised once, with its output count: the row's slice of a scratch array
// [V] i32 is cleared at the listed tokens, then every occurrence adds to its token's entry
// (output: +1; prompt: the top bit, when repetition is on), then every occurrence swaps its
// entry back to 0 — exactly one occurrence per distinct token sees a non-zero value, and that
// thread applies the token's penalties. The result does not depend on the order of atomics.
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/penalties.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 512;
constexpr uint32_t kInPrompt = 0x80000000u;

__global__ void __launch_bounds__(kThreads) penalties_kernel(const PenaltyArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  const int s = blockIdx.x, V = a.V;
  const float rep = a.repetition[s], pres = a.presence[s], freq = a.frequency[s];
  const bool use_rep = rep != 1.0f, use_count = freq != 0.0f || pres != 0.0f;
  if (!use_rep && !use_count) return;
  float* row = a.logits + s * a.ld;
  uint32_t* cnt = reinterpret_cast<uint32_t*>(a.counts) + static_cast<int64_t>(s) * V;
  const int32_t* prompt = a.prompt_tokens + a.prompt_start[s];
  const int np = use_rep ? a.prompt_start[s + 1] - a.prompt_start[s] : 0;
  const int32_t* output = a.output_tokens + a.output_start[s];
  const int no = a.output_start[s + 1] - a.output_start[s];
  auto valid = [V](int32_t t) { return t >= 0 && t < V; };

  for (int i = threadIdx.x; i < np; i += kThreads)
    if (valid(prompt[i])) cnt[prompt[i]] = 0;
  for (int i = threadIdx.x; i < no; i += kThreads)
    if (valid(output[i])) cnt[output[i]] = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < np; i += kThreads)
    if (valid(prompt[i])) atomicOr(&cnt[prompt[i]], kInPrompt);
  for (int i = threadIdx.x; i < no; i += kThreads)
    if (valid(output[i])) atomicAdd(&cnt[output[i]], 1u);
  __syncthreads();
  auto apply = [&](int32_t t) {
    if (!valid(t)) return;
    const uint32_t v = atomicExch(&cnt[t], 0u);
    if (v == 0) return;
    float l = row[t];
    if (use_rep) l = l > 0.0f ? l / rep : l * rep;
    const uint32_t c = v & ~kInPrompt;
    // Rounded as the CPU op writes it: (freq * c + pres), no fused multiply-add.
    if (use_count && c > 0) l -= __fadd_rn(__fmul_rn(freq, static_cast<float>(c)), pres);
    row[t] = l;
  };
  for (int i = threadIdx.x; i < np; i += kThreads) apply(prompt[i]);
  for (int i = threadIdx.x; i < no; i += kThreads) apply(output[i]);
}

}  // namespace

cudaError_t apply_penalties(const PenaltyArgs& a, cudaStream_t stream) {
  if (a.S == 0) return cudaSuccess;
  return launch(penalties_kernel, a.S, kThreads, 0, stream, a);
}

}  // namespace rotor::cuda
