#include "envs/swebench/grading.h"

#include <array>
#include <sstream>

#include <nlohmann/json.hpp>

namespace rock::envs::swebench {
namespace {

constexpr std::array<std::string_view, 5> kStatuses = {"FAILED", "PASSED", "SKIPPED", "ERROR", "XFAIL"};

nlohmann::json Split(const std::map<std::string, std::string>& statuses, const std::vector<std::string>& tests) {
  nlohmann::json success = nlohmann::json::array(), failure = nlohmann::json::array();
  for (const std::string& test : tests) (TestPassed(statuses, test) ? success : failure).push_back(test);
  return {{"success", std::move(success)}, {"failure", std::move(failure)}};
}

}  // namespace

std::map<std::string, std::string> ParsePytestLog(std::string_view log) {
  std::map<std::string, std::string> statuses;
  std::istringstream lines{std::string(log)};
  std::string line;
  while (std::getline(lines, line)) {
    bool known = false;
    for (std::string_view status : kStatuses) known = known || line.starts_with(status);
    if (!known) continue;
    // "FAILED tests/a.py::t - AssertionError": the reason after " - " is not part of the name.
    std::string words_of_line;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const bool dash = line.starts_with("FAILED") && line.compare(i, 3, " - ") == 0;
      words_of_line += dash ? ' ' : line[i];
      if (dash) i += 2;
    }
    std::istringstream words(words_of_line);
    std::string status, test;
    if (words >> status >> test) statuses[test] = status;
  }
  return statuses;
}

bool TestPassed(const std::map<std::string, std::string>& statuses, const std::string& test) {
  const auto it = statuses.find(test);
  return it != statuses.end() && (it->second == "PASSED" || it->second == "XFAIL");
}

Grade GradeTests(const std::map<std::string, std::string>& statuses, const std::vector<std::string>& fail_to_pass,
                 const std::vector<std::string>& pass_to_pass) {
  Grade grade;
  grade.tests_status = {{"FAIL_TO_PASS", Split(statuses, fail_to_pass)},
                        {"PASS_TO_PASS", Split(statuses, pass_to_pass)},
                        // SWE-bench reports these for instances that have them; ours have none.
                        {"FAIL_TO_FAIL", Split(statuses, {})},
                        {"PASS_TO_FAIL", Split(statuses, {})}};
  grade.resolved = grade.tests_status["FAIL_TO_PASS"]["failure"].empty() && grade.tests_status["PASS_TO_PASS"]["failure"].empty();
  return grade;
}

}  // namespace rock::envs::swebench
