// core/log.h — logging through spdlog (stderr); one call sets the level for the process.
#pragma once
#include <spdlog/spdlog.h>

#include <string_view>

namespace rotor {

// level: "trace", "debug", "info", "warn", "error", "off".
void set_log_level(std::string_view level);

}  // namespace rotor

#define ROTOR_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define ROTOR_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define ROTOR_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
#define ROTOR_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
