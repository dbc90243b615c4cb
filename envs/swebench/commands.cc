#include "envs/swebench/commands.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace rock::envs::swebench {
namespace {

// Git output that is ours to read (clone, checkout): small.
constexpr uint64_t kGitOutputBytes = 64 << 10;
constexpr uint32_t kGitTimeoutS = 120;

// "a/src/x.py" → "src/x.py"; "/dev/null" stays as it is (an added or deleted file).
std::string Unprefixed(std::string path) {
  if (const auto tab = path.find('\t'); tab != std::string::npos) path.resize(tab);
  if (path.size() > 2 && (path.starts_with("a/") || path.starts_with("b/"))) return path.substr(2);
  return path;
}

}  // namespace

Commands::Commands(RunExec run_exec, std::map<std::string, std::string> env)
    : run_exec_(std::move(run_exec)), env_(std::move(env)) {}

CommandResult Commands::Shell(const std::string& script, const std::string& cwd, uint32_t timeout_s,
                              uint64_t max_output_bytes) const {
  const nlohmann::json exec = {{"type", "exec"},
                               {"id", "swebench"},
                               {"argv", {"/bin/bash", "-c", script}},
                               {"env", env_},
                               {"cwd", cwd},
                               {"timeout_ms", static_cast<uint64_t>(timeout_s) * 1000},
                               {"max_output_bytes", max_output_bytes}};
  const nlohmann::json answer = run_exec_(exec);
  CommandResult result;
  const nlohmann::json& code = answer.value("exit_code", nlohmann::json());
  result.exit_code = code.is_number_integer() ? code.get<int>() : -1;
  result.signaled = answer.contains("signal") && !answer.at("signal").is_null();
  result.timed_out = answer.value("timed_out", false);
  result.truncated = answer.value("truncated", false);
  result.stdout_text = answer.value("stdout", "");
  result.stderr_text = answer.value("stderr", "");
  result.duration_ms = answer.value("duration_ms", int64_t{0});
  return result;
}

std::string ShellQuote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

Status GitCheckout(const Commands& commands, const std::string& mirror, const std::string& commit, const std::string& dest) {
  const std::string script = "git clone -q --shared --no-checkout " + ShellQuote(mirror) + " " + ShellQuote(dest) +
                             " && git -C " + ShellQuote(dest) + " checkout -q --detach " + ShellQuote(commit);
  const CommandResult result = commands.Shell(script, "/", kGitTimeoutS, kGitOutputBytes);
  if (!result.ok()) {
    // Not Unavailable: the balancer would take it for a dead sandbox and try another.
    return FailedPrecondition("checking out " + commit + " of " + mirror + " failed (exit " + std::to_string(result.exit_code) +
                       "): " + result.Output());
  }
  return Status::Ok();
}

std::vector<std::string> PathsOfDiff(std::string_view diff) {
  std::vector<std::string> paths;
  const auto add = [&paths](std::string path) {
    if (path != "/dev/null" && !path.empty() && std::find(paths.begin(), paths.end(), path) == paths.end()) {
      paths.push_back(std::move(path));
    }
  };
  // Hunk bodies are skipped by their line counts, so a removed line "-- x" is never a header.
  long old_left = 0, new_left = 0;
  std::istringstream lines{std::string(diff)};
  std::string line;
  while (std::getline(lines, line)) {
    if (old_left > 0 || new_left > 0) {
      const char kind = line.empty() ? ' ' : line[0];
      if (kind == ' ' || kind == '-') --old_left;
      if (kind == ' ' || kind == '+') --new_left;
      continue;
    }
    if (line.starts_with("@@ ")) {
      long old_start = 0, new_start = 0;
      old_left = new_left = 1;
      if (std::sscanf(line.c_str(), "@@ -%ld,%ld +%ld,%ld", &old_start, &old_left, &new_start, &new_left) < 4 &&
          std::sscanf(line.c_str(), "@@ -%ld +%ld,%ld", &old_start, &new_start, &new_left) < 3) {
        std::sscanf(line.c_str(), "@@ -%ld,%ld +%ld", &old_start, &old_left, &new_start);
      }
    } else if (line.starts_with("--- ") || line.starts_with("+++ ")) {
      add(Unprefixed(line.substr(4)));
    }
  }
  return paths;
}

}  // namespace rock::envs::swebench
