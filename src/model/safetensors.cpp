// model/safetensors.cpp — mmap and header validation of safetensors files and shard sets.
#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/log.h"

namespace rotor {
namespace fs = std::filesystem;

SafetensorsFile::SafetensorsFile(const fs::path& path) : path_(path) {
  const std::string file = path.filename().string();
  int fd = ::open(path.c_str(), O_RDONLY);
  ROTOR_CHECK(fd >= 0, "cannot open checkpoint file {}: {}", path.string(), std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  ROTOR_CHECK(map_ != MAP_FAILED && map_ != nullptr, "{}: cannot map the file ({} bytes)", file, size_);

  const auto* bytes = static_cast<const uint8_t*>(map_);
  ROTOR_CHECK(size_ >= 8, "{}: truncated file ({} bytes, no header)", file, size_);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes, 8);
  ROTOR_CHECK(header_len <= size_ - 8, "{}: corrupt header: header length {} exceeds the file size {}", file,
              header_len, size_);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    ROTOR_FAIL("{}: corrupt header: {}", file, e.what());
  }
  ROTOR_CHECK(header.is_object(), "{}: corrupt header: not a JSON object", file);
  const size_t data_start = 8 + header_len;
  const size_t data_size = size_ - data_start;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (info.is_object())
        for (auto& [k, v] : info.items())
          if (v.is_string()) metadata_[k] = v.get<std::string>();
      continue;
    }
    ROTOR_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
                "{}: corrupt header entry for tensor '{}'", file, name);
    const auto& offs = info["data_offsets"];
    ROTOR_CHECK(info["dtype"].is_string() && info["shape"].is_array() && offs.is_array() && offs.size() == 2 &&
                    offs[0].is_number_unsigned() && offs[1].is_number_unsigned(),
                "{}: corrupt header entry for tensor '{}'", file, name);
    auto dtype = dtype_from_name(info["dtype"].get<std::string>());
    ROTOR_CHECK(dtype.has_value(), "{}: tensor '{}' has unsupported dtype {}", file, name, info["dtype"].dump());
    Shape shape;
    ROTOR_CHECK(info["shape"].size() <= static_cast<size_t>(kMaxDims), "{}: tensor '{}' has rank {} > {}", file, name,
                info["shape"].size(), kMaxDims);
    // The element count as Shape::numel multiplies it, each product checked (a header's
    // dimensions are the file's word: [2^62, 4] would wrap to 0 elements and pass the size check).
    int64_t numel = 1;
    for (auto& d : info["shape"]) {
      ROTOR_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX) &&
                      !__builtin_mul_overflow(numel, d.get<int64_t>(), &numel),
                  "{}: tensor '{}' has a bad shape {}", file, name, info["shape"].dump());
      shape.push_back(d.get<int64_t>());
    }
    const uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
    ROTOR_CHECK(begin <= end && end <= data_size,
                "{}: tensor '{}' lies at bytes [{}, {}) but the file holds only {} data bytes (truncated?)", file, name,
                begin, end, data_size);
    uint64_t need = 0;
    ROTOR_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(numel), dtype_size(*dtype), &need) &&
                    end - begin == need,
                "{}: tensor '{}' is {} bytes but {}{} needs {}", file, name, end - begin, dtype_name(*dtype),
                shape.str(), need);
    const uint8_t* at = bytes + data_start + begin;
    if (reinterpret_cast<uintptr_t>(at) % dtype_size(*dtype) != 0) {
      // The format does not align tensors (the safetensors library orders them so that a file it
      // writes always is): one that is not aligned to its element size is copied into memory of
      // its own, so that every reader may load its elements as their type.
      std::vector<uint8_t>& copy = copies_.emplace_back(at, at + need);
      at = copy.data();
      copied_bytes_ += need;
    }
    tensors_.emplace(name, Tensor(const_cast<uint8_t*>(at), *dtype, shape));
  }
  if (copied_bytes_ > 0)
    ROTOR_LOG_WARN("{}: {} tensor(s), {:.1f} MiB, not aligned to their element size: read into memory", file,
                   copies_.size(), static_cast<double>(copied_bytes_) / (1 << 20));
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ && map_ != MAP_FAILED) ::munmap(map_, size_);
}

Tensor SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  ROTOR_CHECK(it != tensors_.end(), "{}: no tensor '{}'", path_.filename().string(), name);
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> n;
  for (auto& [k, _] : tensors_) n.push_back(k);
  return n;
}

std::shared_ptr<Checkpoint> Checkpoint::open(const fs::path& dir, const std::string& prefix) {
  auto ck = std::shared_ptr<Checkpoint>(new Checkpoint());
  ck->dir_ = dir;
  std::vector<fs::path> files;
  const fs::path index = dir / (prefix + ".safetensors.index.json");
  if (fs::exists(index)) {
    std::ifstream f(index);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
      ROTOR_FAIL("{}: not valid JSON ({})", index.filename().string(), e.what());
    }
    ROTOR_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), "{}: no weight_map", index.filename().string());
    std::map<std::string, std::string> wanted;
    for (auto& [name, file] : j["weight_map"].items()) {
      ROTOR_CHECK(file.is_string(), "{}: bad entry for '{}'", index.filename().string(), name);
      wanted[name] = file.get<std::string>();
    }
    std::map<std::string, const SafetensorsFile*> opened;
    for (auto& [name, file] : wanted) {
      if (!opened.count(file)) {
        ROTOR_CHECK(fs::exists(dir / file), "{} names shard '{}' (for tensor '{}'), which does not exist",
                    index.filename().string(), file, name);
        ck->files_.push_back(std::make_unique<SafetensorsFile>(dir / file));
        opened[file] = ck->files_.back().get();
      }
      ROTOR_CHECK(opened[file]->has(name), "tensor '{}' is missing from shard '{}' (the index names it there)", name,
                  file);
      ck->where_[name] = opened[file];
    }
    return ck;
  }
  ROTOR_CHECK(fs::is_directory(dir), "model directory {} does not exist", dir.string());
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) == 0 && e.path().extension() == ".safetensors") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ROTOR_CHECK(!files.empty(), "no {}*.safetensors file in {}", prefix, dir.string());
  for (auto& p : files) {
    ck->files_.push_back(std::make_unique<SafetensorsFile>(p));
    for (auto& name : ck->files_.back()->names()) {
      ROTOR_CHECK(!ck->where_.count(name), "tensor '{}' is in two files ({} and {})", name,
                  ck->where_[name]->path().filename().string(), p.filename().string());
      ck->where_[name] = ck->files_.back().get();
    }
  }
  return ck;
}

Tensor Checkpoint::get(const std::string& name) const {
  auto it = where_.find(name);
  ROTOR_CHECK(it != where_.end(), "checkpoint {}: tensor '{}' is missing", dir_.filename().string(), name);
  return it->second->get(name);
}

Tensor Checkpoint::get(const std::string& name, const Shape& shape) const {
  Tensor t = get(name);
  ROTOR_CHECK(t.dtype() == DType::BF16 || t.dtype() == DType::F16 || t.dtype() == DType::F32,
              "checkpoint: tensor '{}' has dtype {}, expected a float type (BF16, F16 or F32)", name,
              dtype_name(t.dtype()));
  ROTOR_CHECK(t.shape() == shape, "checkpoint: tensor '{}' has shape {}, expected {}", name, t.shape().str(),
              shape.str());
  return t;
}

std::string Checkpoint::file_of(const void* p) const {
  for (const auto& f : files_)
    if (f->contains(p)) return f->path().filename().string();
  return "";
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t n = 0;
  for (const auto& f : files_) n += f->size();
  return n;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> n;
  for (auto& [k, _] : where_) n.push_back(k);
  return n;
}

}  // namespace rotor
