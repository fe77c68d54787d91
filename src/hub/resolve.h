// hub/resolve.h — from what a user types as the model (a directory, or a Hugging Face repo id
// "Org/Name" as `vllm serve` takes it) to a local model directory: the repo's snapshot in the
// Hugging Face cache, downloading the missing files (config, tokenizer, generation config,
// safetensors index + shards or the W8A8 files) unless HF_HUB_OFFLINE=1.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace rotor::hub {

struct HubOptions {
  std::string revision;         // --revision: branch, tag or commit ("" = main)
  std::string download_dir;     // --download-dir: a cache root of the hub's layout ("" = the environment's)
  std::string token;            // --hf-token ("" = $HF_TOKEN, else the token file of `hf auth login`)
  bool weights = true;          // false: no safetensors (--load-format dummy needs only the config)
  bool allow_download = true;   // false: the cache only (--dry-run)
};

// "Org/Name": one slash, letters, digits and -_. on both sides.
bool looks_like_repo_id(const std::string& model);
// $HF_HUB_OFFLINE set to 1 / true / yes / on.
bool offline();
// `model` itself when it exists on disk; else the snapshot directory of the repo id `model`
// (cached, or completed by downloading). rotor::Error with one line saying why not.
std::filesystem::path resolve_model(const std::string& model, const HubOptions& options);

// The files rotor takes from a repository's listing: config, tokenizer and generation files,
// and (weights) every safetensors index (their shards come from the index) or, with none,
// every top-level *.safetensors.
std::vector<std::string> wanted_files(const std::vector<std::string>& repo_files, bool weights);

}  // namespace rotor::hub
