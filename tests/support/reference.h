// tests/support/reference.h — what the model tests share: a fixture's reference.json /
// reference.safetensors, the relative error of logits, longer random prompts beside a fixture's,
// and running prompts through a model directory on the CPU (prompt argmax and last-position
// logits).
#pragma once
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <vector>

#include "tests/support/offline_generate.h"
#include "kernels/ops.h"
#include "model/load_model.h"
#include "model/safetensors.h"

namespace rotor::test {

struct Reference {
  std::vector<std::vector<int32_t>> ids, argmax, greedy;
  std::vector<std::vector<float>> last_logits;
};

inline Reference read_reference(const std::filesystem::path& dir) {
  Reference r;
  std::ifstream f(dir / "reference.json");
  const nlohmann::json j = nlohmann::json::parse(f);
  SafetensorsFile st(dir / "reference.safetensors");
  for (size_t i = 0; i < j["prompts"].size(); ++i) {
    const auto& p = j["prompts"][i];
    r.ids.push_back(p["ids"].get<std::vector<int32_t>>());
    r.argmax.push_back(p["argmax"].get<std::vector<int32_t>>());
    r.greedy.push_back(p.value("greedy", std::vector<int32_t>{}));
    Tensor t = st.get("prompt" + std::to_string(i) + ".last_logits");
    r.last_logits.emplace_back(t.data<float>(), t.data<float>() + t.numel());
  }
  return r;
}

inline double rel_err(const std::vector<float>& ref, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += double(ref[i] - got[i]) * (ref[i] - got[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

// Fraction of positions where two argmax sequences agree.
inline double agreement(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t same = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) same += a[i] == b[i];
  return a.empty() ? 0.0 : double(same) / double(std::max(a.size(), b.size()));
}

// Loads `model` and prefills every prompt (in one batch, chunked when chunk > 0), returning
// per prompt the argmax after every position and the logits after the last.
// `prompts` and two random ones of 97 and 230 tokens (ids below `vocab`, drawn from
// mt19937(seed)): chunked prefills then read earlier chunks back from the cache, and an argmax
// agreement counts a few hundred positions, not a fixture's few dozen.
inline std::vector<std::vector<int32_t>> with_random_prompts(std::vector<std::vector<int32_t>> prompts, int vocab,
                                                             uint32_t seed) {
  std::mt19937 g(seed);
  for (int len : {97, 230}) {
    prompts.emplace_back(len);
    for (int32_t& t : prompts.back()) t = static_cast<int32_t>(g() % vocab);
  }
  return prompts;
}

// Greedy requests for `prompts`, `max_tokens` each past any eos, that report the argmax after
// every prompt position and the last position's logits.
inline std::vector<OfflineRequest> greedy_prompt_requests(const std::vector<std::vector<int32_t>>& prompts,
                                                          int max_tokens) {
  std::vector<OfflineRequest> reqs(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    reqs[i].prompt = prompts[i];
    reqs[i].params.temperature = 0.0f;
    reqs[i].max_tokens = max_tokens;
    reqs[i].ignore_eos = true;
    reqs[i].prompt_argmax = true;
    reqs[i].prompt_logits = true;
  }
  return reqs;
}

inline std::vector<OfflineResult> run_prompts(Ops& ops, const std::filesystem::path& model,
                                              const std::vector<std::vector<int32_t>>& prompts, int chunk = 0) {
  auto comm = make_local_comm();
  LoadOptions lo;
  lo.model = model;
  LoadedModel m = load_model(lo, ops);
  const std::vector<OfflineRequest> reqs = greedy_prompt_requests(prompts, 1);
  ModelRunner runner(ops, *comm, m.config, std::move(m.weights), offline_runner_options(reqs));
  return generate_offline(runner, reqs, chunk, m.config.eos_token_ids);
}

}  // namespace rotor::test
