#include "envs/alfworld/pddl/json_skim.h"

#include <gtest/gtest.h>

namespace rock::alfworld::pddl {
namespace {

SkimmedLiteral Solvable(std::string_view json) { return SkimTopLevelLiteral(json, "solvable"); }

TEST(JsonSkim, ReadsTheTopLevelLiteral) {
  EXPECT_EQ(Solvable(R"({"pddl_domain": "x", "solvable": true, "walkthrough": []})"), SkimmedLiteral::kTrue);
  EXPECT_EQ(Solvable("{\n\"solvable\" :\tfalse\n}"), SkimmedLiteral::kFalse);
  EXPECT_EQ(Solvable(R"({"walkthrough": null, "solvable": null})"), SkimmedLiteral::kNull);
  EXPECT_EQ(Solvable(R"({"pddl_domain": "x"})"), SkimmedLiteral::kAbsent);
  EXPECT_EQ(Solvable("{}"), SkimmedLiteral::kAbsent);
}

TEST(JsonSkim, IgnoresTheKeyInsideStringsAndNestedValues) {
  EXPECT_EQ(Solvable(R"({"a": "\"solvable\": false, {", "solvable": true})"), SkimmedLiteral::kTrue);
  EXPECT_EQ(Solvable(R"({"a": {"solvable": false}, "b": [{"solvable": false}]})"), SkimmedLiteral::kAbsent);
  EXPECT_EQ(Solvable(R"({"a": "\\", "solvable": false})"), SkimmedLiteral::kFalse) << "an escaped backslash ends no string";
}

TEST(JsonSkim, TheLastDuplicateWinsAsInADecoder) {
  EXPECT_EQ(Solvable(R"({"solvable": false, "solvable": true})"), SkimmedLiteral::kTrue);
}

TEST(JsonSkim, AnythingItCannotDecideIsUnknown) {
  EXPECT_EQ(Solvable(R"({"solvable": "yes"})"), SkimmedLiteral::kUnknown) << "not a literal";
  EXPECT_EQ(Solvable(R"({"solvable": 1})"), SkimmedLiteral::kUnknown);
  EXPECT_EQ(Solvable(R"({"solvable": truest})"), SkimmedLiteral::kUnknown);
  EXPECT_EQ(Solvable(R"({"solv\u0061ble": false})"), SkimmedLiteral::kUnknown) << "escaped keys need a decoder";
  EXPECT_EQ(Solvable(R"(["solvable", false])"), SkimmedLiteral::kUnknown) << "not an object";
  EXPECT_EQ(Solvable(R"({"solvable": false, "a": "unterminated)"), SkimmedLiteral::kUnknown);
  EXPECT_EQ(Solvable(R"({"solvable" false})"), SkimmedLiteral::kUnknown) << "no colon";
  EXPECT_EQ(Solvable(R"({"solvable": true)"), SkimmedLiteral::kUnknown) << "never closed";
  EXPECT_EQ(Solvable(""), SkimmedLiteral::kUnknown);
}

}  // namespace
}  // namespace rock::alfworld::pddl
