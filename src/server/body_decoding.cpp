// server/body_decoding.cpp — bounded inflation of gzip / deflate request bodies (zlib).
#include "server/body_decoding.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace rotor::server {
namespace {

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Inflates `in` with zlib's window_bits (31: gzip, 15: zlib, -15: raw deflate); gzip members
// may follow each other. Stops with TooLarge once the output would pass max_bytes.
DecodedBody inflate_bounded(std::string_view in, int window_bits, int64_t max_bytes) {
  DecodedBody out;
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) {
    out.status = DecodeStatus::Corrupt;
    out.message = "cannot start zlib";
    return out;
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char chunk[64 * 1024];
  int rc = Z_OK;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof(chunk);
    rc = inflate(&z, Z_NO_FLUSH);
    const size_t produced = sizeof(chunk) - z.avail_out;
    if (static_cast<int64_t>(out.body.size() + produced) > max_bytes) {
      out.status = DecodeStatus::TooLarge;
      break;
    }
    out.body.append(chunk, produced);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      if (window_bits != 31 || inflateReset(&z) != Z_OK) {  // only gzip has members
        rc = Z_DATA_ERROR;
      } else {
        continue;
      }
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) rc = Z_DATA_ERROR;  // truncated input
    if (rc != Z_OK) {
      out.status = DecodeStatus::Corrupt;
      out.message = z.msg ? z.msg : "truncated or corrupt data";
      break;
    }
  }
  inflateEnd(&z);
  if (out.status == DecodeStatus::TooLarge)
    out.message = fmt::format("the decoded request body is larger than the limit of {} bytes", max_bytes);
  if (out.status != DecodeStatus::Ok) out.body.clear();
  return out;
}

}  // namespace

DecodedBody decode_body(std::string_view encoding, std::string body, int64_t max_bytes) {
  const std::string enc = lower_trimmed(encoding);
  if (enc.empty() || enc == "identity") {
    DecodedBody d;
    d.body = std::move(body);
    return d;
  }
  DecodedBody d;
  if (enc == "gzip" || enc == "x-gzip") {
    d = inflate_bounded(body, 31, max_bytes);
  } else if (enc == "deflate") {
    // RFC 9110's deflate is the zlib format; some clients send raw deflate instead.
    d = inflate_bounded(body, 15, max_bytes);
    if (d.status == DecodeStatus::Corrupt) d = inflate_bounded(body, -15, max_bytes);
  } else {
    d.status = DecodeStatus::Unsupported;
    d.message = fmt::format("Content-Encoding '{}' is not supported (gzip, deflate or identity)", enc);
    return d;
  }
  if (d.status == DecodeStatus::Corrupt)
    d.message = fmt::format("the request body is not valid {} data: {}", enc, d.message);
  return d;
}

}  // namespace rotor::server
