// The worker's reset_result and step_result carry the env's info as JSON text, `info_json`
// (rockd passes it on unparsed); tests read it back as JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace rock::test {

inline nlohmann::json InfoOf(const nlohmann::json& reply) {
  return nlohmann::json::parse(reply.at("info_json").get<std::string>());
}

}  // namespace rock::test
