#include "common/log.h"

#include <memory>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace rock {

void InitLogging(std::string_view level) {
  auto logger = std::make_shared<spdlog::logger>("rockd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

void SetLogLevel(std::string_view level) { spdlog::set_level(spdlog::level::from_str(std::string(level))); }

std::string_view CurrentLogLevel() {
  // spdlog says "warning" for what it parses from "warn"; answer in the config's names.
  switch (spdlog::get_level()) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

}  // namespace rock
