#include "envs/alfworld/pddl/json_skim.h"

namespace rock::alfworld::pddl {
namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t SkipSpace(std::string_view json, size_t pos) {
  while (pos < json.size() && IsJsonSpace(json[pos])) ++pos;
  return pos;
}

// The literal starting at `pos`, which must end where a value ends.
SkimmedLiteral LiteralAt(std::string_view json, size_t pos) {
  constexpr std::pair<std::string_view, SkimmedLiteral> kLiterals[] = {
      {"true", SkimmedLiteral::kTrue}, {"false", SkimmedLiteral::kFalse}, {"null", SkimmedLiteral::kNull}};
  for (const auto& [text, literal] : kLiterals) {
    if (json.substr(pos, text.size()) != text) continue;
    size_t end = SkipSpace(json, pos + text.size());
    if (end < json.size() && (json[end] == ',' || json[end] == '}')) return literal;
  }
  return SkimmedLiteral::kUnknown;
}

}  // namespace

SkimmedLiteral SkimTopLevelLiteral(std::string_view json, std::string_view key) {
  size_t pos = SkipSpace(json, 0);
  if (pos == json.size() || json[pos] != '{') return SkimmedLiteral::kUnknown;
  SkimmedLiteral found = SkimmedLiteral::kAbsent;
  int depth = 0;
  bool expect_key = false;  // the next string at depth 1 is a key
  for (; pos < json.size(); ++pos) {
    char c = json[pos];
    if (c == '"') {
      size_t end = pos + 1;
      bool escaped = false;
      while (end < json.size() && json[end] != '"') {
        escaped |= json[end] == '\\';
        end += json[end] == '\\' ? 2 : 1;
      }
      if (end >= json.size()) return SkimmedLiteral::kUnknown;
      if (depth == 1 && expect_key) {
        expect_key = false;
        std::string_view name = json.substr(pos + 1, end - pos - 1);
        // An escaped key may spell `key` ("solv\u0061ble"); only a decoder can tell.
        if (escaped) return SkimmedLiteral::kUnknown;
        size_t colon = SkipSpace(json, end + 1);
        if (colon == json.size() || json[colon] != ':') return SkimmedLiteral::kUnknown;
        if (name == key) found = LiteralAt(json, SkipSpace(json, colon + 1));
        end = colon;
      }
      pos = end;
    } else if (c == '{' || c == '[') {
      ++depth;
      expect_key = c == '{' && depth == 1;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return found;
    } else if (c == ',' && depth == 1) {
      expect_key = true;
    }
  }
  return SkimmedLiteral::kUnknown;
}

}  // namespace rock::alfworld::pddl
