// hub/resolve.cpp — model ids through the Hugging Face cache, downloads of what is missing.
#include "hub/resolve.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "core/check.h"
#include "core/log.h"
#include "core/progress.h"
#include "hub/hf_cache.h"
#include "hub/hub_client.h"

namespace rotor::hub {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string> kSideFiles = {"config.json",           "generation_config.json", "tokenizer.json",
                                             "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                                             "quant_model_description.json"};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool top_level(const std::string& f) { return f.find('/') == std::string::npos; }

std::string token_of(const HubOptions& o) {
  if (!o.token.empty()) return o.token;
  if (!env("HF_TOKEN").empty()) return env("HF_TOKEN");
  const fs::path home = !env("HF_HOME").empty() ? fs::path(env("HF_HOME")) : fs::path(env("HOME")) / ".cache/huggingface";
  std::ifstream f(home / "token");
  std::string t;
  f >> t;
  return t;
}

// The shards an index names (its weight_map's values).
std::set<std::string> shards_of(const fs::path& index) {
  std::ifstream f(index);
  const auto j = nlohmann::json::parse(f, nullptr, false);
  ROTOR_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
              "{}: not a safetensors index (no weight_map)", index.string());
  std::set<std::string> out;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    ROTOR_CHECK(file.is_string(), "{}: weight_map[{}] is not a file name", index.string(), tensor);
    out.insert(file.get<std::string>());
  }
  return out;
}

// What a snapshot still lacks to be loaded ("" when nothing).
std::string missing_from(const fs::path& snapshot, bool weights) {
  if (!fs::is_regular_file(snapshot / "config.json")) return "config.json";
  if (!weights) return "";
  bool any_index = false, any_weights = false;
  for (const auto& e : fs::directory_iterator(snapshot)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".safetensors.index.json")) {
      any_index = true;
      for (const std::string& shard : shards_of(e.path()))
        if (!fs::is_regular_file(snapshot / shard)) return shard;
    } else if (name.ends_with(".safetensors") && fs::is_regular_file(e.path())) {
      any_weights = true;
    }
  }
  return any_index || any_weights ? "" : "the safetensors weights";
}

struct Pending {
  std::string file;
  FileMeta meta;
};

}  // namespace

bool looks_like_repo_id(const std::string& model) {
  static const std::regex kRepo(R"([A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9_.\-]+)");
  return std::regex_match(model, kRepo) && model.find("..") == std::string::npos;
}

bool offline() {
  std::string v = env("HF_HUB_OFFLINE");
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

std::vector<std::string> wanted_files(const std::vector<std::string>& repo_files, bool weights) {
  std::vector<std::string> out;
  bool indexed = false;
  for (const std::string& f : repo_files)
    if (top_level(f) && f.ends_with(".safetensors.index.json")) indexed = true;
  for (const std::string& f : repo_files) {
    if (!top_level(f)) continue;
    const bool side = std::find(kSideFiles.begin(), kSideFiles.end(), f) != kSideFiles.end();
    const bool index = f.ends_with(".safetensors.index.json");
    const bool shard = f.ends_with(".safetensors") && !indexed;
    if (side || (weights && (index || shard))) out.push_back(f);
  }
  return out;
}

fs::path resolve_model(const std::string& model, const HubOptions& o) {
  if (fs::exists(model)) return model;
  ROTOR_CHECK(looks_like_repo_id(model),
              "model {} does not exist (neither a directory nor a Hugging Face repo id Org/Name)", model);
  const std::string rev = o.revision.empty() ? "main" : o.revision;
  const fs::path root = cache_root(o.download_dir);
  const RepoCache cache(root, model);
  const auto cached = [&]() -> std::optional<fs::path> {
    const auto commit = cache.commit_of(rev);
    if (!commit || !missing_from(cache.snapshot(*commit), o.weights).empty()) return std::nullopt;
    return cache.snapshot(*commit);
  };
  if (offline() || !o.allow_download) {
    if (auto dir = cached()) {
      ROTOR_LOG_INFO("model {} (revision {}): {} from the Hugging Face cache", model, rev, dir->string());
      return *dir;
    }
    const auto commit = cache.commit_of(rev);
    const std::string why = commit ? fmt::format("its snapshot {} lacks {}", cache.snapshot(*commit).string(),
                                                 missing_from(cache.snapshot(*commit), o.weights))
                                   : fmt::format("the cache {} has no revision {} of it", root.string(), rev);
    ROTOR_FAIL("model {}: {}, and {} (unset HF_HUB_OFFLINE to download it)", model, why,
               offline() ? "HF_HUB_OFFLINE is set" : "--dry-run does not download");
  }

  const std::string endpoint = env("HF_ENDPOINT").empty() ? "https://huggingface.co" : env("HF_ENDPOINT");
  HubClient client(endpoint, token_of(o));
  RepoInfo info;
  try {
    info = client.repo_info(model, rev);
  } catch (const Unreachable& e) {
    if (auto dir = cached()) {
      ROTOR_LOG_WARN("{}; using the cached snapshot of {} (revision {})", e.what(), model, rev);
      return *dir;
    }
    ROTOR_FAIL("{}, and the Hugging Face cache {} holds no complete revision {} of {}", e.what(), root.string(), rev,
               model);
  }
  std::vector<std::string> files = wanted_files(info.files, o.weights);
  ROTOR_CHECK(std::find(files.begin(), files.end(), "config.json") != files.end(), "{} (revision {}) has no "
              "config.json: not a Hugging Face model repository", model, rev);
  const auto fetch = [&](const std::vector<std::string>& names) {
    std::vector<Pending> todo;
    uint64_t total = 0;
    for (const std::string& f : names) {
      if (cache.has(info.commit, f)) continue;
      Pending p{f, client.file_meta(model, info.commit, f)};
      if (fs::is_regular_file(cache.blob(p.meta.etag))) {
        cache.link(info.commit, f, p.meta.etag);  // the same content under another name or revision
        continue;
      }
      total += p.meta.size;
      todo.push_back(std::move(p));
    }
    if (todo.empty()) return;
    ProgressMeter progress(fmt::format("download {}", model), total);
    ROTOR_LOG_INFO("download {} (commit {}): {} files, {} from {}", model, info.commit.substr(0, 12), todo.size(),
                   ProgressMeter::bytes_str(total), endpoint);
    fs::create_directories(cache.dir() / "blobs");
    for (const Pending& p : todo) {
      const fs::path blob = cache.blob(p.meta.etag), part = blob.string() + ".incomplete";
      client.download(p.meta, p.file, part, progress);
      fs::rename(part, blob);
      cache.link(info.commit, p.file, p.meta.etag);
      if (p.meta.size >= (64u << 20)) progress.note(p.file + " done");
    }
    progress.finish();
  };
  fetch(files);
  if (o.weights) {  // the shards each index names
    std::set<std::string> shards;
    for (const std::string& f : files)
      if (f.ends_with(".safetensors.index.json")) shards.merge(shards_of(cache.snapshot(info.commit) / f));
    for (const std::string& s : shards)
      ROTOR_CHECK(std::find(info.files.begin(), info.files.end(), s) != info.files.end(),
                  "{}: the safetensors index names {}, which the repository does not have", model, s);
    fetch({shards.begin(), shards.end()});
  }
  cache.write_ref(rev, info.commit);
  const std::string missing = missing_from(cache.snapshot(info.commit), o.weights);
  ROTOR_CHECK(missing.empty(), "{} (revision {}): no {} in the repository", model, rev, missing);
  return cache.snapshot(info.commit);
}

}  // namespace rotor::hub
