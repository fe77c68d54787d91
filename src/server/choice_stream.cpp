// server/choice_stream.cpp — token deltas → text deltas for one choice.
#include "server/choice_stream.h"

namespace rotor::server {

ChoiceStream::ChoiceStream(const Tokenizer& tokenizer, ChoiceOptions options)
    : opt_(std::move(options)),
      detok_(tokenizer, opt_.skip_special_tokens),
      stop_(opt_.stop, opt_.include_stop_str_in_output) {
  if (opt_.parse_reasoning) {
    reasoning_.emplace(opt_.prompt_opened_think);
    in_think_ = opt_.prompt_opened_think;
    think_start_ = tokenizer.token_to_id("<think>");
    think_end_ = tokenizer.token_to_id("</think>");
  }
}

void ChoiceStream::count_reasoning(int32_t token) {
  // As the reasoning parser reads the text: a think block opened by the prompt or by the first
  // output token, up to its </think>.
  if (num_output_tokens_ == 1 && token == think_start_) in_think_ = true;
  if (!in_think_) return;
  ++num_reasoning_tokens_;
  if (token == think_end_) in_think_ = false;
}

void ChoiceStream::route(std::string text, ChoiceDelta& d, bool final) {
  std::string content;
  if (reasoning_) {
    ReasoningDelta r = reasoning_->push(text);
    if (final) {
      ReasoningDelta rest = reasoning_->flush();
      r.reasoning += rest.reasoning;
      r.content += rest.content;
    }
    d.reasoning += r.reasoning;
    content = std::move(r.content);
  } else {
    content = std::move(text);
  }
  if (opt_.parse_tool_calls) {
    ToolDelta t = tools_.push(content);
    if (final) {
      ToolDelta rest = tools_.flush();
      t.content += rest.content;
      for (auto& c : rest.calls) t.calls.push_back(std::move(c));
    }
    d.content += t.content;
    for (auto& c : t.calls) {
      if (opt_.single_tool_call && num_calls_kept_ > 0) continue;
      ++num_calls_kept_;
      d.tool_calls.push_back(std::move(c));
    }
  } else {
    d.content += content;
  }
}

ChoiceDelta ChoiceStream::push(const RequestOutput& out) {
  ChoiceDelta d;
  if (finished_) return d;
  num_prompt_tokens_ = out.num_prompt_tokens;
  num_cached_tokens_ = out.num_cached_tokens;
  d.prompt_logprobs = out.prompt_logprobs;
  if (opt_.echo_only) {  // the one token drawn is not part of the answer
    if (out.finished) {
      finished_ = d.finished = true;
      d.finish_reason = finish_reason_name(out.finish_reason);
      d.error = out.error;
    }
    return d;
  }
  std::string text;
  for (size_t i = 0; i < out.token_ids.size() && !stop_.stopped(); ++i) {
    ++num_output_tokens_;
    if (reasoning_) count_reasoning(out.token_ids[i]);
    text += stop_.push(detok_.push(out.token_ids[i]), num_output_tokens_ >= opt_.min_tokens);
    if (i < out.logprobs.size()) d.logprobs.push_back(out.logprobs[i]);
  }
  if (stop_.stopped()) {
    finished_ = true;
    d.finish_reason = "stop";
    d.stop_reason = stop_.matched();
  } else if (out.finished) {
    finished_ = true;
    text += stop_.push(detok_.finish(), num_output_tokens_ >= opt_.min_tokens);
    if (stop_.stopped()) {
      d.finish_reason = "stop";
      d.stop_reason = stop_.matched();
    } else {
      text += stop_.flush();
      d.finish_reason = finish_reason_name(out.finish_reason);
      if (out.stop_token_id) d.stop_reason = *out.stop_token_id;
      d.error = out.error;
    }
  }
  route(std::move(text), d, finished_);
  if (finished_) {
    d.finished = true;
    if (d.finish_reason == "stop" && tools_.num_calls() > 0) d.finish_reason = "tool_calls";
  }
  return d;
}

}  // namespace rotor::server
