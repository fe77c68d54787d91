// core/log.cpp — process-wide log level and a stderr logger.
#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace rotor {

void set_log_level(std::string_view level) {
  static bool installed = [] {
    auto logger = spdlog::stderr_color_mt("rotor");
    logger->set_pattern("%^[%H:%M:%S.%e %L]%$ %v");
    spdlog::set_default_logger(logger);
    return true;
  }();
  (void)installed;
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
}

}  // namespace rotor
