// libFuzzer target: the SWE-bench inputs that come from outside (instances, repo maps, agent
// actions, test logs, diffs). The first byte picks the parser, the rest is its text. Beyond "no
// crash", an instance that parses must survive a round trip through its JSON unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "envs/swebench/action.h"
#include "envs/swebench/commands.h"
#include "envs/swebench/grading.h"
#include "envs/swebench/instance.h"

namespace {

using namespace rock::envs::swebench;
using nlohmann::json;

void ParsesAnInstance(std::string_view text) {
  const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return;
  auto instance = ParseInstance(parsed);
  if (!instance.ok()) return;
  auto again = ParseInstance(InstanceToJson(*instance));
  if (!again.ok() || InstanceToJson(*again) != InstanceToJson(*instance)) __builtin_trap();
}

void ParsesARepoMap(std::string_view text) {
  const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return;
  auto repos = ParseRepoMap(parsed);
  if (!repos.ok()) return;
  for (const auto& [name, entry] : *repos) {
    if (entry.path.empty() || entry.test_cmd.empty() || entry.test_timeout_s == 0) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0:
      ParsesAnInstance(text);
      break;
    case 1:
      ParsesARepoMap(text);
      break;
    case 2:
      (void)ParseAction(text);
      break;
    case 3:
      for (const auto& [test, status] : ParsePytestLog(text)) {
        if (test.empty() || status.empty()) __builtin_trap();
      }
      break;
    case 4:
      for (const std::string& path : PathsOfDiff(text)) {
        if (path.empty() || path == "/dev/null") __builtin_trap();
      }
      break;
  }
  return 0;
}
