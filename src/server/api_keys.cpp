// server/api_keys.cpp — constant-time API key checks (OpenSSL SHA-256 and CRYPTO_memcmp).
#include "server/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <strings.h>

namespace rotor::server {
namespace {

std::array<unsigned char, 32> sha256(std::string_view s) {
  std::array<unsigned char, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

}  // namespace

ApiKeys::ApiKeys(const std::vector<std::string>& keys) {
  for (const std::string& k : keys)
    if (!k.empty()) digests_.push_back(sha256(k));
}

bool ApiKeys::accepts(std::string_view authorization) const {
  if (digests_.empty()) return true;
  constexpr std::string_view kScheme = "Bearer ";
  const bool bearer = authorization.size() > kScheme.size() &&
                      strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) == 0;
  const auto given = sha256(bearer ? authorization.substr(kScheme.size()) : std::string_view());
  int matches = 0;
  for (const auto& d : digests_) matches |= CRYPTO_memcmp(given.data(), d.data(), d.size()) == 0;
  return bearer && matches != 0;
}

}  // namespace rotor::server
