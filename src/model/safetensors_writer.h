// model/safetensors_writer.h — writes a safetensors checkpoint in streaming fashion: every
// tensor (name, dtype, shape) is planned first, so the headers are final before any data;
// then tensors are written by name, in any order and from any thread, straight to their
// place in the file (a 235B checkpoint never has to sit in memory). Over max_shard_bytes the
// tensors go to <prefix>-0000i-of-0000n.safetensors with a <prefix>.safetensors.index.json.
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace rotor {

class SafetensorsWriter {
 public:
  SafetensorsWriter(std::filesystem::path dir, std::string prefix, size_t max_shard_bytes = size_t{5} << 30);
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // Plans a tensor (before begin()); names must be unique.
  void plan(const std::string& name, DType dtype, const Shape& shape);
  bool planned(const std::string& name) const { return entries_.count(name) != 0; }
  // Assigns shards, creates the files at their final size and writes their headers.
  void begin();
  // Writes a planned tensor's bytes (t must be contiguous, of the planned dtype and shape).
  void write(const std::string& name, const Tensor& t);
  // Writes rows [first_row, first_row + rows.size(0)) of a planned tensor (for tensors streamed
  // in blocks); the tensor counts as written once all its rows are.
  void write_rows(const std::string& name, int64_t first_row, const Tensor& rows);
  // Checks that every planned tensor was written, closes the files, writes the index if sharded.
  // Returns the file names written.
  std::vector<std::string> finish();

 private:
  struct Entry {
    DType dtype;
    Shape shape;
    size_t bytes = 0;
    int shard = -1;
    size_t offset = 0;  // in the file (header included)
    size_t bytes_written = 0;
  };
  std::filesystem::path dir_;
  std::string prefix_;
  size_t max_shard_bytes_;
  std::vector<std::string> order_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> files_;
  std::vector<int> fds_;
  std::mutex mu_;
  bool begun_ = false;
};

}  // namespace rotor
