#include "daemon/raw_json.h"

namespace rock {

std::string DumpWithRawMember(const nlohmann::json& object, std::string_view key, std::string_view raw_value) {
  std::string text = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.pop_back();  // the closing brace
  if (!object.empty()) text += ',';
  text += nlohmann::json(key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += ':';
  text += raw_value;
  text += '}';
  return text;
}

}  // namespace rock
