// The SWE-bench parsers and the editor alone: instances and repo maps, agent actions, pytest logs
// and grading, diff paths; malformed input of each gets an error that names what is wrong.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "envs/swebench/action.h"
#include "envs/swebench/commands.h"
#include "envs/swebench/editor.h"
#include "envs/swebench/grading.h"
#include "envs/swebench/instance.h"

namespace rock::envs::swebench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json ValidInstance() {
  return {{"instance_id", "o__r-1"},      {"repo", "o/r"},
          {"base_commit", "0123abcd"},    {"patch", "diff --git a/x b/x\n"},
          {"test_patch", "diff --git a/t b/t\n"}, {"problem_statement", "it breaks"},
          {"hints_text", ""},             {"created_at", "2026-11-01T00:00:00Z"},
          {"version", "1.0"},             {"environment_setup_commit", "89abcdef"},
          {"FAIL_TO_PASS", "[\"tests/t.py::a\"]"}, {"PASS_TO_PASS", "[]"}};
}

TEST(SwebenchInstance, ParsesTheDatasetFormatAndRoundTrips) {
  auto instance = ParseInstance(ValidInstance());
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_EQ(instance->fail_to_pass, std::vector<std::string>{"tests/t.py::a"});
  EXPECT_TRUE(instance->pass_to_pass.empty());
  EXPECT_EQ(InstanceToJson(*instance), ValidInstance());
  json lists = ValidInstance();
  lists["FAIL_TO_PASS"] = {"tests/t.py::a"};
  lists["PASS_TO_PASS"] = json::array();
  EXPECT_TRUE(ParseInstance(lists).ok());
}

TEST(SwebenchInstance, MalformedInstancesNameTheField) {
  const std::pair<std::function<void(json&)>, std::string> cases[] = {
      {[](json& j) { j.erase("instance_id"); }, "'instance_id' is required"},
      {[](json& j) { j.erase("base_commit"); }, "instance 'o__r-1': 'base_commit' is required"},
      {[](json& j) { j["base_commit"] = "main"; }, "'base_commit' is not a commit id"},
      {[](json& j) { j["repo"] = "noslash"; }, "'repo' must be 'owner/name'"},
      {[](json& j) { j["patch"] = 3; }, "'patch' must be a string"},
      {[](json& j) { j["problem_statement"] = ""; }, "'problem_statement' must not be empty"},
      {[](json& j) { j["FAIL_TO_PASS"] = "[not json"; }, "'FAIL_TO_PASS' is not a JSON-encoded list"},
      {[](json& j) { j["FAIL_TO_PASS"] = "[]"; }, "'FAIL_TO_PASS' must name at least one test"},
      {[](json& j) { j["PASS_TO_PASS"] = "[1]"; }, "'PASS_TO_PASS' must hold only non-empty test names"},
      {[](json& j) { j.erase("PASS_TO_PASS"); }, "'PASS_TO_PASS' is required"},
      {[](json& j) { j["environment_setup_commit"] = "xyz"; }, "'environment_setup_commit' is not a commit id"},
      {[](json& j) { j = json::array(); }, "must be a JSON object"},
  };
  for (const auto& [mutate, message] : cases) {
    json instance = ValidInstance();
    mutate(instance);
    auto parsed = ParseInstance(instance);
    ASSERT_FALSE(parsed.ok()) << message;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(message), std::string::npos) << parsed.status().message();
  }
}

TEST(SwebenchInstance, LoadsJsonLinesAndArraysAndNamesTheBadLine) {
  const fs::path dir = fs::temp_directory_path() / ("swebench-parse-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "good.jsonl") << ValidInstance().dump() << "\n\n" << ValidInstance().dump() << "\n";
  std::ofstream(dir / "good.json") << json::array({ValidInstance()}).dump(2);
  std::ofstream(dir / "bad.jsonl") << ValidInstance().dump() << "\n{\"instance_id\": \"x\"\n";
  json missing = ValidInstance();
  missing.erase("repo");
  std::ofstream(dir / "missing.json") << json::array({ValidInstance(), missing}).dump();
  EXPECT_EQ(LoadInstances(dir / "good.jsonl")->size(), 2u);
  EXPECT_EQ(LoadInstances(dir / "good.json")->size(), 1u);
  auto bad = LoadInstances(dir / "bad.jsonl");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.jsonl:2: not valid JSON"), std::string::npos) << bad.status().message();
  auto second = LoadInstances(dir / "missing.json");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("instance 1"), std::string::npos) << second.status().message();
  EXPECT_NE(second.status().message().find("'repo' is required"), std::string::npos);
  EXPECT_EQ(LoadInstances(dir / "absent.jsonl").status().code(), Code::kNotFound);
  fs::remove_all(dir);
}

TEST(SwebenchInstance, RepoMapsAreCheckedKeyByKey) {
  auto repos = ParseRepoMap(json::parse(R"({"o/r": {"path": "repos/r.git", "test_timeout_s": 30}})"));
  ASSERT_TRUE(repos.ok());
  EXPECT_EQ(repos->at("o/r").path, "repos/r.git");
  EXPECT_EQ(repos->at("o/r").test_timeout_s, 30u);
  EXPECT_EQ(repos->at("o/r").test_cmd, "python3 -m pytest -rA -p no:cacheprovider");
  for (const char* bad : {R"([])", R"({"o/r": "repos/r.git"})", R"({"o/r": {}})", R"({"o/r": {"path": ""}})",
                          R"({"o/r": {"path": "p", "test_timeout_s": 0}})", R"({"o/r": {"path": "p", "colour": 1}})"}) {
    EXPECT_FALSE(ParseRepoMap(json::parse(bad)).ok()) << bad;
  }
}

TEST(SwebenchAction, ParsesEachTool) {
  auto bash = ParseAction(R"({"tool":"bash","command":"ls -la","timeout_s":5})");
  ASSERT_TRUE(bash.ok());
  EXPECT_EQ(std::get<BashAction>(*bash).command, "ls -la");
  EXPECT_EQ(std::get<BashAction>(*bash).timeout_s, 5u);
  auto view = ParseAction(R"({"tool":"str_replace_editor","command":"view","path":"/a","view_range":[2,-1]})");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(std::get<EditAction>(*view).view_range, (std::pair<int64_t, int64_t>(2, -1)));
  auto insert = ParseAction(R"({"tool":"str_replace_editor","command":"insert","path":"a","insert_line":0,"new_str":"x"})");
  ASSERT_TRUE(insert.ok());
  EXPECT_EQ(std::get<EditAction>(*insert).command, EditCommand::kInsert);
  EXPECT_TRUE(std::holds_alternative<SubmitAction>(*ParseAction(R"({"tool":"submit"})")));
}

TEST(SwebenchAction, MalformedActionsSayWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "not a JSON object"},
      {"ls -la", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {R"({"command":"ls"})", "'tool' is missing"},
      {R"({"tool":"python"})", "unknown tool 'python'"},
      {R"({"tool":"bash","command":""})", "bash needs 'command'"},
      {R"({"tool":"bash","command":"ls","timeout_s":0})", "'timeout_s'"},
      {R"({"tool":"bash","command":"ls","timeout_s":"5"})", "'timeout_s'"},
      {R"({"tool":"bash","command":"ls","cwd":"/"})", "unknown field 'cwd'"},
      {R"({"tool":"str_replace_editor","path":"a"})", "needs 'command'"},
      {R"({"tool":"str_replace_editor","command":"view"})", "needs 'path'"},
      {R"({"tool":"str_replace_editor","command":"str_replace","path":"a"})", "str_replace needs 'old_str'"},
      {R"({"tool":"str_replace_editor","command":"insert","path":"a","new_str":"x"})", "insert needs 'insert_line'"},
      {R"({"tool":"str_replace_editor","command":"view","path":"a","view_range":[1]})", "'view_range' must be"},
      {R"({"tool":"str_replace_editor","command":"create","path":"a","file_text":3})", "'file_text' must be a string"},
      {R"({"tool":"submit","patch":"x"})", "unknown field 'patch'"},
  };
  for (const auto& [text, message] : cases) {
    auto action = ParseAction(text);
    ASSERT_FALSE(action.ok()) << text;
    EXPECT_NE(action.status().message().find(message), std::string::npos) << text << ": " << action.status().message();
  }
}

TEST(SwebenchGrading, ParsesPytestSummariesAsSweBenchDoes) {
  const std::string log =
      "============ short test summary info ============\n"
      "PASSED tests/test_a.py::test_one\n"
      "PASSED tests/test_a.py::test_param[1-True]\n"
      "FAILED tests/test_a.py::test_two - AssertionError: assert 1 == 2 - see above\n"
      "XFAIL tests/test_a.py::test_known - reason\n"
      "SKIPPED [1] tests/test_a.py:40: no network\n"
      "ERROR tests/test_b.py - ImportError\n"
      "  PASSED not at the start of the line\n"
      "=== 2 passed, 1 failed in 0.1s ===\n";
  const auto statuses = ParsePytestLog(log);
  EXPECT_EQ(statuses.at("tests/test_a.py::test_one"), "PASSED");
  EXPECT_EQ(statuses.at("tests/test_a.py::test_param[1-True]"), "PASSED");
  EXPECT_EQ(statuses.at("tests/test_a.py::test_two"), "FAILED");
  EXPECT_EQ(statuses.at("tests/test_a.py::test_known"), "XFAIL");
  EXPECT_EQ(statuses.at("tests/test_b.py"), "ERROR");
  EXPECT_FALSE(statuses.contains("not"));

  const Grade grade = GradeTests(statuses, {"tests/test_a.py::test_one", "tests/test_a.py::test_known"},
                                 {"tests/test_a.py::test_param[1-True]"});
  EXPECT_TRUE(grade.resolved);
  const Grade failed = GradeTests(statuses, {"tests/test_a.py::test_two"}, {"tests/test_a.py::missing"});
  EXPECT_FALSE(failed.resolved);
  EXPECT_EQ(failed.tests_status["FAIL_TO_PASS"]["failure"], json({"tests/test_a.py::test_two"}));
  EXPECT_EQ(failed.tests_status["PASS_TO_PASS"]["failure"], json({"tests/test_a.py::missing"}));
  EXPECT_TRUE(ParsePytestLog("").empty());
  EXPECT_TRUE(ParsePytestLog("PASSED\nFAILED\n\n\x01\xff").empty());
}

TEST(SwebenchDiff, PathsOfDiffSkipsHunkBodies) {
  const std::string diff =
      "diff --git a/tests/test_x.py b/tests/test_x.py\n"
      "--- a/tests/test_x.py\n"
      "+++ b/tests/test_x.py\n"
      "@@ -1,2 +1,3 @@\n"
      " import x\n"
      "--- a/not/a/header\n"
      "+++ b/not/a/header\n"
      "+new line\n"
      "diff --git a/tests/test_new.py b/tests/test_new.py\n"
      "new file mode 100644\n"
      "--- /dev/null\n"
      "+++ b/tests/test_new.py\n"
      "@@ -0,0 +1 @@\n"
      "+def test(): pass\n";
  EXPECT_EQ(PathsOfDiff(diff), (std::vector<std::string>{"tests/test_x.py", "tests/test_new.py"}));
  EXPECT_TRUE(PathsOfDiff("").empty());
  EXPECT_TRUE(PathsOfDiff("@@ garbage\n--- \n").empty());
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

class EditorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "pkg" / "deep" / "deeper");
    std::ofstream(root_ / "pkg" / "a.py") << "def f():\n    return 1\n\ndef g():\n    return 1\n";
    std::ofstream(root_ / "pkg" / "deep" / "deeper" / "hidden.py") << "";
    std::ofstream(root_ / ".git") << "";
  }
  void TearDown() override { fs::remove_all(root_); }

  StatusOr<std::string> Do(EditAction edit) { return editor_.Apply(edit); }
  std::string Read(const std::string& file) {
    std::ifstream in(root_ / file);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  const fs::path root_ = fs::temp_directory_path() / ("swebench-editor-" + std::to_string(getpid()));
  Editor editor_{root_};
};

TEST_F(EditorTest, ViewsFilesAndDirectories) {
  auto file = Do({.command = EditCommand::kView, .path = (root_ / "pkg/a.py").string(), .view_range = std::pair(4, -1)});
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(*file, "Here's the result of running `cat -n` on " + (root_ / "pkg/a.py").string() + ":\n     4\tdef g():\n     5\t    return 1\n");
  auto dir = Do({.command = EditCommand::kView, .path = root_.string()});
  ASSERT_TRUE(dir.ok());
  EXPECT_NE(dir->find((root_ / "pkg/deep").string() + "\n"), std::string::npos) << *dir;
  EXPECT_EQ(dir->find("deeper"), std::string::npos) << *dir;  // two levels only
  EXPECT_EQ(dir->find(".git"), std::string::npos) << *dir;    // hidden
  EXPECT_FALSE(Do({.command = EditCommand::kView, .path = "pkg/a.py", .view_range = std::pair(0, 2)}).ok());
  EXPECT_FALSE(Do({.command = EditCommand::kView, .path = "pkg/a.py", .view_range = std::pair(3, 9)}).ok());
  EXPECT_EQ(Do({.command = EditCommand::kView, .path = "pkg/none.py"}).status().code(), Code::kNotFound);
}

TEST_F(EditorTest, StrReplaceNeedsAUniqueMatchAndUndoRestores) {
  auto twice = Do({.command = EditCommand::kStrReplace, .path = "pkg/a.py", .old_str = "return 1", .new_str = "return 2"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("Multiple occurrences of old_str `return 1` in lines 2, 5"), std::string::npos)
      << twice.status().message();
  EXPECT_FALSE(Do({.command = EditCommand::kStrReplace, .path = "pkg/a.py", .old_str = "absent"}).ok());
  const std::string before = Read("pkg/a.py");
  auto once = Do({.command = EditCommand::kStrReplace, .path = "pkg/a.py", .old_str = "def g():\n    return 1",
                  .new_str = "def g():\n    return 2"});
  ASSERT_TRUE(once.ok()) << once.status().ToString();
  EXPECT_NE(Read("pkg/a.py").find("return 2"), std::string::npos);
  auto inserted = Do({.command = EditCommand::kInsert, .path = "pkg/a.py", .new_str = "# top", .insert_line = 0});
  ASSERT_TRUE(inserted.ok());
  EXPECT_TRUE(Read("pkg/a.py").starts_with("# top\n"));
  EXPECT_FALSE(Do({.command = EditCommand::kInsert, .path = "pkg/a.py", .new_str = "x", .insert_line = 99}).ok());
  ASSERT_TRUE(Do({.command = EditCommand::kUndoEdit, .path = "pkg/a.py"}).ok());
  ASSERT_TRUE(Do({.command = EditCommand::kUndoEdit, .path = "pkg/a.py"}).ok());
  EXPECT_EQ(Read("pkg/a.py"), before);
  EXPECT_FALSE(Do({.command = EditCommand::kUndoEdit, .path = "pkg/a.py"}).ok());
}

TEST_F(EditorTest, CreateRefusesToOverwriteAndPathsStayInsideTheRoot) {
  EXPECT_FALSE(Do({.command = EditCommand::kCreate, .path = "pkg/a.py", .file_text = "x"}).ok());
  ASSERT_TRUE(Do({.command = EditCommand::kCreate, .path = "new/dir/b.py", .file_text = "x = 1\n"}).ok());
  EXPECT_EQ(Read("new/dir/b.py"), "x = 1\n");
  ASSERT_TRUE(Do({.command = EditCommand::kUndoEdit, .path = "new/dir/b.py"}).ok());
  EXPECT_FALSE(fs::exists(root_ / "new/dir/b.py"));
  fs::create_symlink("/etc", root_ / "etc-link");
  for (const std::string path : {"/etc/passwd", "../outside", "pkg/../../outside", "etc-link/passwd"}) {
    auto outside = Do({.command = EditCommand::kView, .path = path});
    ASSERT_FALSE(outside.ok()) << path;
    EXPECT_NE(outside.status().message().find("outside the repository"), std::string::npos) << outside.status().message();
  }
}

}  // namespace
}  // namespace rock::envs::swebench
