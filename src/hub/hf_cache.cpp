// hub/hf_cache.cpp — cache roots, refs, snapshot links.
#include "hub/hf_cache.h"

#include <cstdlib>
#include <fstream>

#include "core/check.h"
#include "hub/checksum.h"

namespace rotor::hub {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

fs::path cache_root(const std::string& download_dir) {
  if (!download_dir.empty()) return download_dir;
  for (const char* var : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"})
    if (!env(var).empty()) return env(var);
  if (!env("HF_HOME").empty()) return fs::path(env("HF_HOME")) / "hub";
  if (!env("XDG_CACHE_HOME").empty()) return fs::path(env("XDG_CACHE_HOME")) / "huggingface" / "hub";
  return fs::path(env("HOME")) / ".cache" / "huggingface" / "hub";
}

RepoCache::RepoCache(fs::path root, const std::string& repo_id) {
  std::string name = "models--" + repo_id;
  for (size_t p = name.find('/'); p != std::string::npos; p = name.find('/', p + 2)) name.replace(p, 1, "--");
  dir_ = std::move(root) / name;
}

std::optional<std::string> RepoCache::commit_of(const std::string& revision) const {
  if (etag_kind(revision) == EtagKind::GitSha1 && fs::is_directory(snapshot(revision))) return revision;
  std::ifstream f(dir_ / "refs" / revision);
  std::string commit;
  if (!(f >> commit) || etag_kind(commit) != EtagKind::GitSha1) return std::nullopt;
  return commit;
}

void RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit) return;
  const fs::path ref = dir_ / "refs" / revision;
  fs::create_directories(ref.parent_path());
  std::ofstream(ref, std::ios::trunc) << commit;
}

void RepoCache::link(const std::string& commit, const std::string& file, const std::string& etag) const {
  const fs::path dst = snapshot(commit) / file;
  fs::create_directories(dst.parent_path());
  std::error_code ec;
  fs::remove(dst, ec);
  fs::create_symlink(fs::relative(blob(etag), dst.parent_path()), dst, ec);
  ROTOR_CHECK(!ec, "hub cache: cannot link {} to its blob: {}", dst.string(), ec.message());
}

bool RepoCache::has(const std::string& commit, const std::string& file) const {
  std::error_code ec;
  return fs::is_regular_file(snapshot(commit) / file, ec);
}

}  // namespace rotor::hub
