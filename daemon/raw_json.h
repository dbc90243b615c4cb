// JSON text around a piece that is JSON text already: an env's info, checked to be one JSON
// object where it left the sandbox, goes to clients without being parsed and dumped again.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace rock {

// The text of `object` (a JSON object) with one more member, `key`, whose value is the JSON
// text `raw_value`. Invalid UTF-8 in `object` is replaced, as in every response.
std::string DumpWithRawMember(const nlohmann::json& object, std::string_view key, std::string_view raw_value);

}  // namespace rock
