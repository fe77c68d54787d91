// core/token_constraint.h — a per-request constraint on the tokens a sequence may sample next
// (structured outputs: a grammar matcher). The engine feeds it every sampled token in order
// and asks it for the bitmask of the next step; it knows nothing of how the constraint works.
// Not thread-safe: one thread at a time (the engine calls it from one thread per step).
#pragma once
#include <cstdint>
#include <span>

namespace rotor {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Takes the next sampled token; false (and no change) when the constraint refuses it.
  virtual bool accept_token(int32_t token) = 0;
  // bitmask[t / 32] bit t % 32 = 1: token t may be sampled next (the stop tokens once the
  // constraint is complete). bitmask has (vocab_size + 31) / 32 words.
  virtual void fill_bitmask(std::span<uint32_t> bitmask) = 0;
  // A stop token was accepted: nothing more may follow.
  virtual bool is_terminated() const = 0;
  // Forgets the last n accepted tokens.
  virtual void rollback(int n) = 0;
  virtual int num_accepted() const = 0;
};

}  // namespace rotor
