#include "envs/alfworld/names.h"

#include <unordered_map>

namespace rock::alfworld {
namespace {

constexpr std::string_view kBar = "_bar_";

// ALFWorld's readable text for an id: the mangled punctuation turned back into characters.
std::string Unmangle(std::string_view id) {
  static constexpr std::pair<std::string_view, char> kCodes[] = {
      {"_bar_", '|'}, {"_minus_", '-'}, {"_plus_", '+'}, {"_dot_", '.'}, {"_comma_", ','}};
  std::string text;
  text.reserve(id.size());
  size_t i = 0;
  while (i < id.size()) {
    bool replaced = false;
    for (const auto& [code, ch] : kCodes) {
      if (id.substr(i, code.size()) == code) {
        text.push_back(ch);
        i += code.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) text.push_back(id[i++]);
  }
  return text;
}

// The class an id is counted under, or "" when it has no "_bar_" (agents, types).
std::string ClassOf(std::string_view id) {
  size_t bar = id.find(kBar);
  if (bar == std::string_view::npos) return {};
  std::string name(id.substr(0, bar));
  if (id.find("basin") != std::string_view::npos) name += "basin";
  return name;
}

}  // namespace

std::vector<std::string> DisplayNames(const std::vector<std::string>& sorted_ids) {
  std::unordered_map<std::string, int> remaining;
  for (const std::string& id : sorted_ids) {
    std::string cls = ClassOf(id);
    if (!cls.empty()) ++remaining[cls];
  }
  std::vector<std::string> names;
  names.reserve(sorted_ids.size());
  for (const std::string& id : sorted_ids) {
    std::string cls = ClassOf(id);
    if (cls.empty()) {
      // Python's "{} {}".format(text, "") keeps the trailing space; such entities (agent,
      // types) never appear in observations.
      names.push_back(Unmangle(id) + " ");
      continue;
    }
    // The Demangler pops numbers off the end of [1..count] while walking the sorted ids.
    names.push_back(cls + " " + std::to_string(remaining[cls]--));
  }
  return names;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string MangleThorId(std::string_view thor_id) {
  std::string id;
  id.reserve(thor_id.size() * 2);
  for (char c : thor_id) {
    switch (c) {
      case '|':
        id += "_bar_";
        break;
      case '+':
        id += "_plus_";
        break;
      case '-':
        id += "_minus_";
        break;
      case '.':
        id += "_dot_";
        break;
      case ',':
        id += "_comma_";
        break;
      default:
        id.push_back(c);
    }
  }
  return id;
}

}  // namespace rock::alfworld
