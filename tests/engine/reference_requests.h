// tests/engine/reference_requests.h — a fixture's reference prompts through an Engine: every
// prompt greedy with its prompt argmax, expected to give reference.json's tokens (transformers).
#pragma once
#include <gtest/gtest.h>

#include <vector>

#include "engine/engine.h"
#include "tests/support/reference.h"

namespace rotor::test {

// Submits every prompt of `ref` at once (greedy, ignore_eos, as many tokens as its greedy
// reference, prompt argmax) and expects each reference's tokens and argmaxes.
inline void expect_reference_outputs(Engine& engine, const Reference& ref) {
  std::vector<RequestHandle> handles;
  for (size_t i = 0; i < ref.ids.size(); ++i) {
    EngineRequest r;
    r.prompt_token_ids = ref.ids[i];
    r.params.temperature = 0.0f;
    r.params.max_tokens = static_cast<int>(ref.greedy[i].size());
    r.params.ignore_eos = true;
    r.prompt_argmax = true;
    handles.push_back(engine.submit(std::move(r)));
  }
  for (size_t i = 0; i < handles.size(); ++i) {
    const RequestOutput o = handles[i].wait();
    ASSERT_NE(o.finish_reason, FinishReason::Error) << o.error;
    EXPECT_EQ(o.token_ids, ref.greedy[i]) << "prompt " << i;
    EXPECT_EQ(o.prompt_argmax, ref.argmax[i]) << "prompt " << i;
  }
}

}  // namespace rotor::test
