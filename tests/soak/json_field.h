// Fields of rockd's JSON answers, read without throwing. nlohmann's value() throws when the key
// holds null or another type (a sandbox between processes has a null pid, a command killed by a
// signal a null exit_code), and the soak must count such an answer, not die of it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace rock::soak {

// object[key] when object is an object holding a string there, else "".
inline std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// object[key] when object is an object holding an integer there, else `otherwise`.
inline int IntField(const nlohmann::json& object, const char* key, int otherwise) {
  if (!object.is_object()) return otherwise;
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int>() : otherwise;
}

}  // namespace rock::soak
