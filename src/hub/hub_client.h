// hub/hub_client.h — the Hugging Face hub's HTTP API over libcurl: a revision's commit and
// file list (/api/models/{repo}/revision/{rev}), a file's etag, size and download location
// (HEAD /{repo}/resolve/{commit}/{file}, LFS files redirecting to a CDN), and resumable,
// checksummed downloads (Range requests; sha256 for LFS files, git's blob sha1 otherwise).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/progress.h"

namespace rotor::hub {

// The hub could not be reached (no answer, connection refused, DNS): the caller may fall back
// to the cache. HTTP errors (401, 404, ...) are plain rotor::Errors.
class Unreachable : public Error {
 public:
  using Error::Error;
};

struct RepoInfo {
  std::string commit;               // 40-hex commit the revision resolves to
  std::vector<std::string> files;   // every file of the repository at that commit
};

struct FileMeta {
  std::string etag;                 // sha256 (LFS) or git blob sha1, quotes removed
  uint64_t size = 0;
  std::string url;                  // where to GET the content (a redirect's target for LFS files)
};

class HubClient {
 public:
  // endpoint: e.g. "https://huggingface.co" ($HF_ENDPOINT); token: bearer token or "".
  HubClient(std::string endpoint, std::string token);

  RepoInfo repo_info(const std::string& repo, const std::string& revision) const;
  FileMeta file_meta(const std::string& repo, const std::string& commit, const std::string& file) const;
  // GETs meta.url into `part`, continuing from the bytes already there (Range), retrying
  // dropped transfers from where they stopped; then checks the content against meta.etag.
  // On a checksum mismatch `part` is deleted and rotor::Error names both sums.
  void download(const FileMeta& meta, const std::string& file, const std::filesystem::path& part,
                ProgressMeter& progress) const;

  const std::string& endpoint() const { return endpoint_; }

 private:
  std::string endpoint_, token_;
};

}  // namespace rotor::hub
