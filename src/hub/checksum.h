// hub/checksum.h — the checksums the Hugging Face hub names files by: sha256 of the content
// for LFS files (X-Linked-Etag), git's blob sha1 ("blob <size>\0" + content) for the rest (ETag).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rotor::hub {

enum class EtagKind { Sha256, GitSha1, Unknown };
// 64 hex digits: sha256; 40: git blob sha1; anything else: nothing to check against.
EtagKind etag_kind(std::string_view etag);

// Incremental hash of a file's content in the etag's kind (size needed up front for git's).
class ContentHash {
 public:
  ContentHash(EtagKind kind, uint64_t size);
  ~ContentHash();
  ContentHash(const ContentHash&) = delete;
  ContentHash& operator=(const ContentHash&) = delete;
  void update(const void* data, size_t n);
  std::string hex();  // lower-case; ends the hash

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace rotor::hub
