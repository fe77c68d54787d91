// server/body_decoding.h — a request body's Content-Encoding (gzip, deflate, identity)
// undone with a limit on the decoded size: inflation stops as soon as the output passes the
// limit, so a small compressed body cannot grow into gigabytes (zlib, streaming).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace rotor::server {

enum class DecodeStatus { Ok, TooLarge, Unsupported, Corrupt };

struct DecodedBody {
  DecodeStatus status = DecodeStatus::Ok;
  std::string body;     // Ok: the decoded body
  std::string message;  // otherwise: why (for the error reply)
};

// encoding: the Content-Encoding header ("" = identity). max_bytes bounds the decoded body.
// `body` is moved into the result when there is nothing to decode.
DecodedBody decode_body(std::string_view encoding, std::string body, int64_t max_bytes);

}  // namespace rotor::server
