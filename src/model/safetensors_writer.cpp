// model/safetensors_writer.cpp — planned, sharded safetensors output written with pwrite.
#include "model/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"

namespace rotor {
namespace fs = std::filesystem;

namespace {

void pwrite_all(int fd, const void* data, size_t bytes, size_t offset, const std::string& file) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd, p, bytes, static_cast<off_t>(offset));
    ROTOR_CHECK(n > 0 || errno == EINTR, "cannot write {}: {}", file, std::strerror(errno));
    if (n <= 0) continue;
    p += n;
    bytes -= static_cast<size_t>(n);
    offset += static_cast<size_t>(n);
  }
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(fs::path dir, std::string prefix, size_t max_shard_bytes)
    : dir_(std::move(dir)), prefix_(std::move(prefix)), max_shard_bytes_(max_shard_bytes) {}

SafetensorsWriter::~SafetensorsWriter() {
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

void SafetensorsWriter::plan(const std::string& name, DType dtype, const Shape& shape) {
  ROTOR_CHECK(!begun_, "safetensors writer: '{}' planned after begin()", name);
  ROTOR_CHECK(!entries_.count(name), "safetensors writer: tensor '{}' planned twice", name);
  Entry e{dtype, shape};
  e.bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  entries_.emplace(name, e);
  order_.push_back(name);
}

void SafetensorsWriter::begin() {
  ROTOR_CHECK(!begun_ && !order_.empty(), "safetensors writer: nothing planned");
  begun_ = true;
  // Shards in plan order, each at most max_shard_bytes of data (a larger tensor gets its own).
  std::vector<std::vector<std::string>> shards(1);
  size_t used = 0;
  for (const std::string& name : order_) {
    const size_t b = entries_.at(name).bytes;
    if (used > 0 && used + b > max_shard_bytes_) {
      shards.emplace_back();
      used = 0;
    }
    shards.back().push_back(name);
    used += b;
  }
  const int n = static_cast<int>(shards.size());
  for (int s = 0; s < n; ++s) {
    const std::string file = n == 1 ? prefix_ + ".safetensors"
                                     : fmt::format("{}-{:05d}-of-{:05d}.safetensors", prefix_, s + 1, n);
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    header["__metadata__"] = {{"format", "pt"}};
    size_t off = 0;
    for (const std::string& name : shards[s]) {
      Entry& e = entries_.at(name);
      std::vector<int64_t> dims;
      for (int d = 0; d < e.shape.ndim(); ++d) dims.push_back(e.shape[d]);
      header[name] = {{"dtype", std::string(dtype_name(e.dtype))}, {"shape", dims}, {"data_offsets", {off, off + e.bytes}}};
      e.shard = s;
      e.offset = off;
      off += e.bytes;
    }
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');  // data starts 8-byte aligned
    const size_t data_start = 8 + h.size();
    for (const std::string& name : shards[s]) entries_.at(name).offset += data_start;
    const fs::path path = dir_ / file;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ROTOR_CHECK(fd >= 0, "cannot create {}: {}", path.string(), std::strerror(errno));
    fds_.push_back(fd);
    files_.push_back(file);
    ROTOR_CHECK(::ftruncate(fd, static_cast<off_t>(data_start + off)) == 0, "cannot size {}: {}", path.string(),
                std::strerror(errno));
    const uint64_t len = h.size();
    pwrite_all(fd, &len, 8, 0, file);
    pwrite_all(fd, h.data(), h.size(), 8, file);
  }
}

void SafetensorsWriter::write(const std::string& name, const Tensor& t) {
  ROTOR_CHECK(begun_, "safetensors writer: '{}' written before begin()", name);
  auto it = entries_.find(name);
  ROTOR_CHECK(it != entries_.end(), "safetensors writer: tensor '{}' was not planned", name);
  Entry& e = it->second;
  ROTOR_CHECK(t.dtype() == e.dtype && t.shape().numel() == e.shape.numel() && t.is_contiguous() && t.device().is_cpu(),
              "safetensors writer: tensor '{}' is {}, planned {}{}", name, t.str(), dtype_name(e.dtype),
              e.shape.str());
  {
    std::lock_guard<std::mutex> lock(mu_);
    ROTOR_CHECK(e.bytes_written == 0, "safetensors writer: tensor '{}' written twice", name);
    e.bytes_written = e.bytes;
  }
  pwrite_all(fds_[e.shard], t.data(), e.bytes, e.offset, files_[e.shard]);
}

void SafetensorsWriter::write_rows(const std::string& name, int64_t first_row, const Tensor& rows) {
  ROTOR_CHECK(begun_, "safetensors writer: '{}' written before begin()", name);
  auto it = entries_.find(name);
  ROTOR_CHECK(it != entries_.end(), "safetensors writer: tensor '{}' was not planned", name);
  Entry& e = it->second;
  const int64_t row_elems = e.shape.ndim() > 1 ? e.shape.numel() / e.shape[0] : 1;
  ROTOR_CHECK(rows.dtype() == e.dtype && rows.is_contiguous() && rows.numel() % row_elems == 0 &&
                  first_row >= 0 && first_row + rows.numel() / row_elems <= e.shape[0],
              "safetensors writer: rows {} at {} do not fit tensor '{}' {}{}", rows.str(), first_row, name,
              dtype_name(e.dtype), e.shape.str());
  const size_t row_bytes = static_cast<size_t>(row_elems) * dtype_size(e.dtype);
  {
    std::lock_guard<std::mutex> lock(mu_);
    e.bytes_written += rows.nbytes();
    ROTOR_CHECK(e.bytes_written <= e.bytes, "safetensors writer: tensor '{}' written twice", name);
  }
  pwrite_all(fds_[e.shard], rows.data(), rows.nbytes(), e.offset + first_row * row_bytes, files_[e.shard]);
}

std::vector<std::string> SafetensorsWriter::finish() {
  for (const std::string& name : order_)
    ROTOR_CHECK(entries_.at(name).bytes_written == entries_.at(name).bytes,
                "safetensors writer: tensor '{}' was never (completely) written", name);
  for (int& fd : fds_) {
    ROTOR_CHECK(::close(fd) == 0, "cannot close a file in {}: {}", dir_.string(), std::strerror(errno));
    fd = -1;
  }
  if (files_.size() > 1) {
    nlohmann::ordered_json index;
    size_t total = 0;
    for (const std::string& name : order_) total += entries_.at(name).bytes;
    index["metadata"] = {{"total_size", total}};
    index["weight_map"] = nlohmann::ordered_json::object();
    for (const std::string& name : order_) index["weight_map"][name] = files_[entries_.at(name).shard];
    std::ofstream(dir_ / (prefix_ + ".safetensors.index.json")) << index.dump(2) << "\n";
  }
  return files_;
}

}  // namespace rotor
