// server/api_keys.h — bearer-token authentication against one or more API keys (vLLM's
// `--api-key` takes a list), compared in constant time: both sides are hashed (SHA-256) and
// the digests compared with CRYPTO_memcmp against every key, so the time taken depends
// neither on how much of a key matched nor on which key did.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace rotor::server {

class ApiKeys {
 public:
  explicit ApiKeys(const std::vector<std::string>& keys);
  bool empty() const { return digests_.empty(); }
  // authorization: the Authorization header's value ("Bearer <key>").
  bool accepts(std::string_view authorization) const;

 private:
  std::vector<std::array<unsigned char, 32>> digests_;
};

}  // namespace rotor::server
