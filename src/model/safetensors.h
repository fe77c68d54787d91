// model/safetensors.h — safetensors checkpoints, memory-mapped: one file (SafetensorsFile)
// or a set of shards found through model.safetensors.index.json (Checkpoint). Tensors are
// zero-copy CPU views into the mapping (a tensor not aligned to its element size is copied out);
// every header is validated against the file size.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace rotor {

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  Tensor get(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  size_t size() const { return size_; }
  // Bytes of tensors not aligned to their element size in the file, read into memory of their own.
  size_t copied_bytes() const { return copied_bytes_; }
  // Whether p points into this file's mapping.
  bool contains(const void* p) const {
    return p >= map_ && static_cast<const char*>(p) < static_cast<const char*>(map_) + size_;
  }

 private:
  std::filesystem::path path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::vector<uint8_t>> copies_;  // the unaligned tensors' bytes (new[]: 16-byte aligned)
  size_t copied_bytes_ = 0;
};

// All tensors of a checkpoint directory, whatever file holds them.
class Checkpoint {
 public:
  // Opens `dir`: through `<prefix>.safetensors.index.json` when present, else every
  // `<prefix>*.safetensors` file. prefix is "model" for Hugging Face checkpoints.
  static std::shared_ptr<Checkpoint> open(const std::filesystem::path& dir, const std::string& prefix = "model");

  bool has(const std::string& name) const { return where_.count(name) != 0; }
  // The tensor, or an error naming it when it is missing.
  Tensor get(const std::string& name) const;
  // The tensor, checked to have this shape and one of the float dtypes, else an error naming it.
  Tensor get(const std::string& name, const Shape& shape) const;
  std::vector<std::string> names() const;
  const std::filesystem::path& dir() const { return dir_; }
  // The file name whose mapping holds p ("" when none does); every file's size in bytes.
  std::string file_of(const void* p) const;
  uint64_t total_bytes() const;
  size_t num_files() const { return files_.size(); }

 private:
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> where_;
};

}  // namespace rotor
