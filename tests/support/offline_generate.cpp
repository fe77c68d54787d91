// tests/support/offline_generate.cpp — the offline generation loop.
#include "tests/support/offline_generate.h"
#include "core/check.h"

#include <algorithm>
#include <chrono>

namespace rotor {

int offline_blocks_needed(std::span<const OfflineRequest> requests, int block_size) {
  int blocks = 0;
  for (auto& r : requests) blocks += (static_cast<int>(r.prompt.size()) + r.max_tokens + block_size - 1) / block_size;
  return blocks;
}

RunnerOptions offline_runner_options(std::span<const OfflineRequest> requests) {
  RunnerOptions ro;
  int longest = 0;
  for (const OfflineRequest& r : requests) longest = std::max(longest, static_cast<int>(r.prompt.size()) + r.max_tokens);
  ro.num_blocks = offline_blocks_needed(requests, ro.block_size);
  ro.max_model_len = longest;
  ro.max_num_seqs = static_cast<int>(requests.size());
  ro.max_num_tokens = static_cast<int>(requests.size()) * longest;
  return ro;
}

std::vector<OfflineResult> generate_offline(ModelRunner& runner, std::span<const OfflineRequest> requests,
                                            int prefill_chunk, const std::vector<int>& eos_ids, OfflineStats* stats) {
  const int bs = runner.options().block_size;
  ROTOR_CHECK(offline_blocks_needed(requests, bs) <= runner.options().num_blocks,
              "generate: the KV cache holds {} blocks, the prompts need {}", runner.options().num_blocks,
              offline_blocks_needed(requests, bs));
  struct Seq {
    std::vector<int32_t> tokens, blocks;
    int computed = 0;
    bool done = false;
  };
  std::vector<Seq> seqs(requests.size());
  std::vector<OfflineResult> results(requests.size());
  int next_block = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const OfflineRequest& r = requests[i];
    ROTOR_CHECK(!r.prompt.empty() && r.max_tokens >= 1, "generate: empty prompt or max_tokens < 1");
    seqs[i].tokens = r.prompt;
    const int n = (static_cast<int>(r.prompt.size()) + r.max_tokens + bs - 1) / bs;
    for (int b = 0; b < n; ++b) seqs[i].blocks.push_back(next_block++);
  }
  OfflineStats local;
  OfflineStats& st = stats ? *stats : local;
  for (;;) {
    std::vector<SeqWork> work;
    std::vector<size_t> idx;
    bool prefill = false;
    for (size_t i = 0; i < seqs.size(); ++i) {
      Seq& q = seqs[i];
      if (q.done) continue;
      const OfflineRequest& r = requests[i];
      const int prompt_len = static_cast<int>(r.prompt.size());
      const int pending = static_cast<int>(q.tokens.size()) - q.computed;
      const int n = prefill_chunk > 0 ? std::min(pending, prefill_chunk) : pending;
      const bool in_prompt = q.computed < prompt_len;
      prefill |= in_prompt;
      SeqWork w;
      w.tokens = std::span<const int32_t>(q.tokens).subspan(q.computed, n);
      w.num_computed = q.computed;
      w.block_table = q.blocks;
      w.sample = q.computed + n == static_cast<int>(q.tokens.size());
      w.prompt_argmax = in_prompt && r.prompt_argmax;
      w.return_logits = w.sample && in_prompt && r.prompt_logits;
      w.params = r.params;
      w.seed = r.seed;
      w.counter = static_cast<int64_t>(results[i].output.size());
      work.push_back(w);
      idx.push_back(i);
    }
    if (work.empty()) break;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<SeqResult> res = runner.execute(work);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int step_tokens = 0;
    for (auto& w : work) step_tokens += static_cast<int>(w.tokens.size());
    (prefill ? st.prefill_seconds : st.decode_seconds) += dt;
    (prefill ? st.prefill_tokens : st.decode_tokens) += step_tokens;
    for (size_t k = 0; k < work.size(); ++k) {
      Seq& q = seqs[idx[k]];
      OfflineResult& out = results[idx[k]];
      const OfflineRequest& r = requests[idx[k]];
      q.computed += static_cast<int>(work[k].tokens.size());
      out.prompt_argmax.insert(out.prompt_argmax.end(), res[k].argmax.begin(), res[k].argmax.end());
      if (work[k].return_logits) out.prompt_logits = std::move(res[k].logits);
      if (!work[k].sample) continue;
      out.output.push_back(res[k].token);
      q.tokens.push_back(res[k].token);
      const bool eos = std::find(eos_ids.begin(), eos_ids.end(), res[k].token) != eos_ids.end();
      if (static_cast<int>(out.output.size()) >= r.max_tokens || (eos && !r.ignore_eos)) q.done = true;
    }
  }
  return results;
}

}  // namespace rotor
