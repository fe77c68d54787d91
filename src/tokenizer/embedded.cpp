// tokenizer/embedded.cpp — access to the bytes embedded.S places in the binary.
#include "tokenizer/embedded.h"

#include <zstd.h>

#include "core/check.h"

extern "C" {
extern const char rotor_qwen3_tokenizer_zst[];
extern const char rotor_qwen3_tokenizer_zst_end[];
extern const char rotor_qwen3_tokenizer_config[];
extern const char rotor_qwen3_tokenizer_config_end[];
}

namespace rotor::embedded {

std::string qwen3_tokenizer_json() {
  const size_t n = static_cast<size_t>(rotor_qwen3_tokenizer_zst_end - rotor_qwen3_tokenizer_zst);
  const unsigned long long size = ZSTD_getFrameContentSize(rotor_qwen3_tokenizer_zst, n);
  ROTOR_CHECK(size != ZSTD_CONTENTSIZE_ERROR && size != ZSTD_CONTENTSIZE_UNKNOWN,
              "embedded tokenizer: not a zstd frame with a content size");
  std::string out(static_cast<size_t>(size), '\0');
  const size_t got = ZSTD_decompress(out.data(), out.size(), rotor_qwen3_tokenizer_zst, n);
  ROTOR_CHECK(!ZSTD_isError(got) && got == out.size(), "embedded tokenizer: zstd: {}",
              ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output");
  return out;
}

std::string_view qwen3_tokenizer_config_json() {
  return {rotor_qwen3_tokenizer_config,
          static_cast<size_t>(rotor_qwen3_tokenizer_config_end - rotor_qwen3_tokenizer_config)};
}

}  // namespace rotor::embedded
