// Reads one top-level literal of a JSON object without decoding the document. Listing a split
// needs only each game file's "solvable" flag, and decoding 3,553 files of PDDL text held in JSON
// strings (350 MB) would take seconds. Internal to rock_alfworld_pddl and its fuzzer.
#pragma once

#include <string_view>

namespace rock::alfworld::pddl {

enum class SkimmedLiteral {
  kAbsent,   // the object has no such key
  kTrue,
  kFalse,
  kNull,
  kUnknown,  // another kind of value, an escaped key, or text this scan cannot follow: decode it
};

// The value of the last top-level `key` of the object `json`, as a full JSON parser would see it
// when the document is valid. For invalid documents the answer means nothing (kUnknown if the
// scan notices); callers that need errors decode the document.
SkimmedLiteral SkimTopLevelLiteral(std::string_view json, std::string_view key);

}  // namespace rock::alfworld::pddl
