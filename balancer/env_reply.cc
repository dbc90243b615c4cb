#include <string>
#include <string_view>
#include <utility>

#include "balancer/episode.h"

namespace rock::balancer {
namespace {

using nlohmann::json;

// Whether `text` is one JSON object: rockd splices it into its clients' frames unparsed, so it
// must be well-formed there. Checked without building it (no allocation).
bool IsJsonObjectText(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '{' && json::accept(text);
}

}  // namespace

StatusOr<EnvReply> ParseEnvReply(json message) {
  EnvReply reply;
  const auto observation = message.find("observation");
  if (observation == message.end() || !observation->is_string()) {
    return Internal("env answer without a string 'observation'");
  }
  reply.observation = std::move(observation->get_ref<std::string&>());
  if (const auto it = message.find("reward"); it != message.end()) {
    if (!it->is_number()) return Internal("env answer with a non-numeric 'reward'");
    reply.reward = it->get<double>();
  }
  for (auto [key, flag] : {std::pair{"terminated", &reply.terminated}, std::pair{"truncated", &reply.truncated}}) {
    if (const auto it = message.find(key); it != message.end()) {
      if (!it->is_boolean()) return Internal(std::string("env answer with a non-boolean '") + key + "'");
      *flag = it->get<bool>();
    }
  }
  if (const auto it = message.find("info_json"); it != message.end()) {
    if (!it->is_string() || !IsJsonObjectText(it->get_ref<const std::string&>())) {
      return Internal("env answer whose 'info_json' is not the text of one JSON object");
    }
    reply.info_json = std::move(it->get_ref<std::string&>());
  }
  return reply;
}

}  // namespace rock::balancer
