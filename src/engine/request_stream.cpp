// engine/request_stream.cpp — RequestStream, EngineInbox and RequestHandle.
#include "engine/request_stream.h"

#include "core/check.h"
#include "engine/request_handle.h"

namespace rotor {

RequestStream::RequestStream(uint64_t id, int num_prompt_tokens, Clock::time_point arrival) : id_(id) {
  pending_.request_id = id;
  pending_.num_prompt_tokens = num_prompt_tokens;
  pending_.times.arrival = arrival;
}

void RequestStream::push(const RequestUpdate& u, const RequestTimes& times) {
  {
    std::lock_guard lk(mu_);
    if (ended_) return;
    RequestOutput& p = pending_;
    p.token_ids.insert(p.token_ids.end(), u.new_token_ids.begin(), u.new_token_ids.end());
    p.logprobs.insert(p.logprobs.end(), u.logprobs.begin(), u.logprobs.end());
    p.prompt_argmax.insert(p.prompt_argmax.end(), u.prompt_argmax.begin(), u.prompt_argmax.end());
    p.prompt_logprobs.insert(p.prompt_logprobs.end(), u.prompt_logprobs.begin(), u.prompt_logprobs.end());
    p.num_prompt_tokens = u.num_prompt_tokens;
    p.num_output_tokens = u.num_output_tokens;
    p.num_cached_tokens = u.num_cached_tokens;
    p.times = times;
    if (u.finish_reason != FinishReason::None) {
      p.finished = true;
      p.finish_reason = u.finish_reason;
      p.stop_token_id = u.stop_token_id;
      ended_ = true;
    }
    has_pending_ = true;
    if (notify_) notify_();
  }
  cv_.notify_all();
}

void RequestStream::end(FinishReason reason, const std::string& error, const RequestTimes& times) {
  {
    std::lock_guard lk(mu_);
    if (ended_) return;
    pending_.finished = true;
    pending_.finish_reason = reason;
    pending_.error = error;
    pending_.times = times;
    ended_ = true;
    has_pending_ = true;
    if (notify_) notify_();
  }
  cv_.notify_all();
}

std::optional<RequestOutput> RequestStream::take(std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock lk(mu_);
  ROTOR_CHECK(!final_taken_, "request {}: its stream already ended", id_);
  const auto ready = [&] { return has_pending_; };
  if (timeout) {
    if (!cv_.wait_for(lk, *timeout, ready)) return std::nullopt;
  } else {
    cv_.wait(lk, ready);
  }
  RequestOutput out = std::move(pending_);
  pending_ = RequestOutput{};
  pending_.request_id = id_;
  pending_.num_prompt_tokens = out.num_prompt_tokens;
  pending_.num_output_tokens = out.num_output_tokens;
  pending_.num_cached_tokens = out.num_cached_tokens;
  pending_.times = out.times;
  has_pending_ = false;
  final_taken_ = out.finished;
  return out;
}

void RequestStream::set_notify(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  notify_ = std::move(fn);
  if (notify_ && has_pending_) notify_();
}

bool RequestStream::final_taken() const {
  std::lock_guard lk(mu_);
  return final_taken_;
}

void EngineInbox::completed() {
  {
    std::lock_guard lk(mu);
    ++completions;
  }
  cv.notify_all();
}

void EngineInbox::abort(uint64_t id) {
  {
    std::lock_guard lk(mu);
    if (closed) return;
    aborts.push_back(id);
  }
  cv.notify_all();
}

RequestHandle::RequestHandle(std::shared_ptr<RequestStream> stream, std::shared_ptr<EngineInbox> inbox)
    : stream_(std::move(stream)), inbox_(std::move(inbox)) {}
RequestHandle::RequestHandle(RequestHandle&&) noexcept = default;
RequestHandle& RequestHandle::operator=(RequestHandle&& o) noexcept {
  if (this != &o) {
    if (stream_) stream_->set_notify(nullptr);
    if (stream_ && !stream_->final_taken()) inbox_->abort(stream_->id());
    stream_ = std::move(o.stream_);
    inbox_ = std::move(o.inbox_);
  }
  return *this;
}
RequestHandle::~RequestHandle() {
  if (stream_) stream_->set_notify(nullptr);
  if (stream_ && !stream_->final_taken()) inbox_->abort(stream_->id());
}

uint64_t RequestHandle::id() const { return stream_->id(); }
RequestOutput RequestHandle::next() { return *stream_->take(std::nullopt); }
std::optional<RequestOutput> RequestHandle::next_for(std::chrono::milliseconds timeout) {
  return stream_->take(timeout);
}
bool RequestHandle::finished() const { return stream_->final_taken(); }
void RequestHandle::on_output(std::function<void()> fn) { stream_->set_notify(std::move(fn)); }
void RequestHandle::abort() { inbox_->abort(stream_->id()); }

RequestOutput RequestHandle::wait() {
  RequestOutput all = next();
  while (!all.finished) {
    RequestOutput o = next();
    all.token_ids.insert(all.token_ids.end(), o.token_ids.begin(), o.token_ids.end());
    all.logprobs.insert(all.logprobs.end(), o.logprobs.begin(), o.logprobs.end());
    all.prompt_argmax.insert(all.prompt_argmax.end(), o.prompt_argmax.begin(), o.prompt_argmax.end());
    all.prompt_logprobs.insert(all.prompt_logprobs.end(), o.prompt_logprobs.begin(), o.prompt_logprobs.end());
    o.token_ids = std::move(all.token_ids);
    o.logprobs = std::move(all.logprobs);
    o.prompt_argmax = std::move(all.prompt_argmax);
    o.prompt_logprobs = std::move(all.prompt_logprobs);
    all = std::move(o);
  }
  return all;
}

}  // namespace rotor
