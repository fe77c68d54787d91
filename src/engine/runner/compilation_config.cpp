// engine/runner/compilation_config.cpp — parsing --compilation-config.
#include "engine/runner/compilation_config.h"

#include <nlohmann/json.hpp>

#include "core/check.h"

namespace rotor {

CompilationConfig parse_compilation_config(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    ROTOR_FAIL("--compilation-config: not valid JSON: {}", text);
  }
  ROTOR_CHECK(j.is_object(), "--compilation-config: expected a JSON object, got {}", text);
  CompilationConfig c;
  for (const auto& [key, value] : j.items()) {
    if (key == "cudagraph_mode") {
      ROTOR_CHECK(value.is_string(), "--compilation-config: cudagraph_mode must be a string");
      const std::string mode = value.get<std::string>();
      ROTOR_CHECK(mode == "NONE" || mode == "FULL_DECODE_ONLY",
                  "--compilation-config: cudagraph_mode '{}' is not supported (NONE or FULL_DECODE_ONLY)", mode);
      c.cuda_graphs = mode == "FULL_DECODE_ONLY";
    } else if (key == "cudagraph_capture_sizes") {
      ROTOR_CHECK(value.is_array(), "--compilation-config: cudagraph_capture_sizes must be a list of integers");
      for (const auto& v : value) {
        ROTOR_CHECK(v.is_number_integer() && v.get<int>() > 0,
                    "--compilation-config: cudagraph_capture_sizes must be positive integers");
        c.capture_sizes.push_back(v.get<int>());
      }
    } else {
      ROTOR_FAIL("--compilation-config: unknown key '{}' (rotor reads cudagraph_mode, cudagraph_capture_sizes)", key);
    }
  }
  return c;
}

}  // namespace rotor
