// hub/checksum.cpp — sha256 / git blob sha1 through OpenSSL's EVP digests.
#include "hub/checksum.h"

#include <openssl/evp.h>

#include <cctype>

#include "core/check.h"

namespace rotor::hub {

EtagKind etag_kind(std::string_view etag) {
  for (char c : etag)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return EtagKind::Unknown;
  if (etag.size() == 64) return EtagKind::Sha256;
  if (etag.size() == 40) return EtagKind::GitSha1;
  return EtagKind::Unknown;
}

struct ContentHash::State {
  EVP_MD_CTX* ctx = nullptr;
};

ContentHash::ContentHash(EtagKind kind, uint64_t size) : s_(std::make_unique<State>()) {
  ROTOR_CHECK(kind != EtagKind::Unknown, "hub: no checksum kind to compute");
  s_->ctx = EVP_MD_CTX_new();
  ROTOR_CHECK(s_->ctx && EVP_DigestInit_ex(s_->ctx, kind == EtagKind::Sha256 ? EVP_sha256() : EVP_sha1(), nullptr),
              "hub: cannot start a digest");
  if (kind == EtagKind::GitSha1) {
    const std::string header = "blob " + std::to_string(size);
    update(header.c_str(), header.size() + 1);  // with its NUL
  }
}

ContentHash::~ContentHash() { EVP_MD_CTX_free(s_->ctx); }

void ContentHash::update(const void* data, size_t n) { EVP_DigestUpdate(s_->ctx, data, n); }

std::string ContentHash::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(s_->ctx, md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace rotor::hub
