// Grading as SWE-bench does it: the test log is parsed into a status per test (pytest's `-rA`
// summary lines: PASSED, FAILED, SKIPPED, ERROR, XFAIL), and an instance is resolved when every
// FAIL_TO_PASS and every PASS_TO_PASS test passes. PASSED and XFAIL pass; a test missing from the
// log counts as failed.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rock::envs::swebench {

// Test name → status word, from a pytest -rA log (SWE-bench's parse_log_pytest).
std::map<std::string, std::string> ParsePytestLog(std::string_view log);

bool TestPassed(const std::map<std::string, std::string>& statuses, const std::string& test);

struct Grade {
  // SWE-bench's tests_status: {FAIL_TO_PASS, PASS_TO_PASS, FAIL_TO_FAIL, PASS_TO_FAIL}, each
  // {success:[...], failure:[...]}.
  nlohmann::json tests_status;
  bool resolved = false;
};

Grade GradeTests(const std::map<std::string, std::string>& statuses, const std::vector<std::string>& fail_to_pass,
                 const std::vector<std::string>& pass_to_pass);

}  // namespace rock::envs::swebench
