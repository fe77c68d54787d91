// hub/hf_cache.h — the Hugging Face hub cache on disk, as huggingface_hub lays it out:
// <root>/models--Org--Name/{refs/<revision> (a commit hash), blobs/<etag>,
// snapshots/<commit>/<file> -> ../../blobs/<etag>}. The root is --download-dir, else
// $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace rotor::hub {

// The cache root for `download_dir` ("" = from the environment).
std::filesystem::path cache_root(const std::string& download_dir);

class RepoCache {
 public:
  RepoCache(std::filesystem::path root, const std::string& repo_id);

  const std::filesystem::path& dir() const { return dir_; }
  // The commit a revision names: a 40-hex commit itself, else refs/<revision>; nullopt if unknown.
  std::optional<std::string> commit_of(const std::string& revision) const;
  void write_ref(const std::string& revision, const std::string& commit) const;
  std::filesystem::path snapshot(const std::string& commit) const { return dir_ / "snapshots" / commit; }
  std::filesystem::path blob(const std::string& etag) const { return dir_ / "blobs" / etag; }
  // snapshots/<commit>/<file> as a relative link to blobs/<etag> (replacing what was there).
  void link(const std::string& commit, const std::string& file, const std::string& etag) const;
  // A file of a snapshot that resolves to an existing file.
  bool has(const std::string& commit, const std::string& file) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace rotor::hub
