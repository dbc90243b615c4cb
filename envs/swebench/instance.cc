#include "envs/swebench/instance.h"

#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace rock::envs::swebench {
namespace {

using nlohmann::json;

constexpr uint32_t kMaxTestTimeoutS = 3600;

Status FieldError(const json& object, const std::string& field, const std::string& problem) {
  const auto id = object.find("instance_id");
  const std::string where = id != object.end() && id->is_string() ? "instance '" + id->get<std::string>() + "': " : "";
  return InvalidArgument(where + "'" + field + "' " + problem);
}

Status ReadString(const json& object, const std::string& field, bool required, std::string* out) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) {
    return required ? FieldError(object, field, "is required") : Status::Ok();
  }
  if (!it->is_string()) return FieldError(object, field, "must be a string");
  *out = it->get<std::string>();
  if (required && out->empty()) return FieldError(object, field, "must not be empty");
  return Status::Ok();
}

// The dataset stores the test lists as JSON text ("[\"tests/a.py::t\"]"); a list is taken as is.
Status ReadTestList(const json& object, const std::string& field, std::vector<std::string>* out) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return FieldError(object, field, "is required");
  json list = *it;
  if (it->is_string()) {
    list = json::parse(it->get<std::string>(), nullptr, /*allow_exceptions=*/false);
    if (list.is_discarded()) return FieldError(object, field, "is not a JSON-encoded list");
  }
  if (!list.is_array()) return FieldError(object, field, "must be a list of test names (or one encoded as JSON)");
  for (const json& name : list) {
    if (!name.is_string() || name.get<std::string>().empty()) {
      return FieldError(object, field, "must hold only non-empty test names");
    }
    out->push_back(name.get<std::string>());
  }
  return Status::Ok();
}

bool IsCommitName(const std::string& commit) {
  if (commit.size() < 7 || commit.size() > 64) return false;
  for (char c : commit) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

StatusOr<Instance> ParseInstance(const json& object) {
  if (!object.is_object()) return InvalidArgument("an instance must be a JSON object");
  Instance instance;
  const std::pair<const char*, std::string*> required[] = {{"instance_id", &instance.instance_id},
                                                           {"repo", &instance.repo},
                                                           {"base_commit", &instance.base_commit},
                                                           {"patch", &instance.patch},
                                                           {"test_patch", &instance.test_patch},
                                                           {"problem_statement", &instance.problem_statement}};
  for (const auto& [field, out] : required) {
    if (Status s = ReadString(object, field, true, out); !s.ok()) return s;
  }
  const std::pair<const char*, std::string*> optional[] = {{"hints_text", &instance.hints_text},
                                                           {"created_at", &instance.created_at},
                                                           {"version", &instance.version},
                                                           {"environment_setup_commit", &instance.environment_setup_commit}};
  for (const auto& [field, out] : optional) {
    if (Status s = ReadString(object, field, false, out); !s.ok()) return s;
  }
  if (!IsCommitName(instance.base_commit)) return FieldError(object, "base_commit", "is not a commit id (7 to 64 hex digits)");
  if (!instance.environment_setup_commit.empty() && !IsCommitName(instance.environment_setup_commit)) {
    return FieldError(object, "environment_setup_commit", "is not a commit id (7 to 64 hex digits)");
  }
  if (instance.repo.find('/') == std::string::npos) return FieldError(object, "repo", "must be 'owner/name'");
  if (Status s = ReadTestList(object, "FAIL_TO_PASS", &instance.fail_to_pass); !s.ok()) return s;
  if (Status s = ReadTestList(object, "PASS_TO_PASS", &instance.pass_to_pass); !s.ok()) return s;
  if (instance.fail_to_pass.empty()) return FieldError(object, "FAIL_TO_PASS", "must name at least one test");
  return instance;
}

json InstanceToJson(const Instance& i) {
  return {{"instance_id", i.instance_id},
          {"repo", i.repo},
          {"base_commit", i.base_commit},
          {"patch", i.patch},
          {"test_patch", i.test_patch},
          {"problem_statement", i.problem_statement},
          {"hints_text", i.hints_text},
          {"created_at", i.created_at},
          {"version", i.version},
          {"environment_setup_commit", i.environment_setup_commit},
          {"FAIL_TO_PASS", json(i.fail_to_pass).dump()},
          {"PASS_TO_PASS", json(i.pass_to_pass).dump()}};
}

StatusOr<std::vector<Instance>> LoadInstances(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return NotFound("cannot open instance file " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  std::vector<Instance> instances;
  const auto first = content.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && content[first] == '[') {
    const json array = json::parse(content, nullptr, false);
    if (array.is_discarded()) return InvalidArgument(file.string() + ": not valid JSON");
    for (std::size_t i = 0; i < array.size(); ++i) {
      auto instance = ParseInstance(array[i]);
      if (!instance.ok()) return instance.status().WithContext(file.string() + ": instance " + std::to_string(i));
      instances.push_back(std::move(instance).value());
    }
    return instances;
  }
  std::istringstream lines(content);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json object = json::parse(line, nullptr, false);
    const std::string where = file.string() + ":" + std::to_string(number);
    if (object.is_discarded()) return InvalidArgument(where + ": not valid JSON");
    auto instance = ParseInstance(object);
    if (!instance.ok()) return instance.status().WithContext(where);
    instances.push_back(std::move(instance).value());
  }
  return instances;
}

StatusOr<std::map<std::string, RepoEntry>> ParseRepoMap(const json& object) {
  if (!object.is_object()) return InvalidArgument("the repo map must be an object of \"owner/name\": {path, ...}");
  std::map<std::string, RepoEntry> repos;
  for (const auto& [name, value] : object.items()) {
    if (!value.is_object()) return InvalidArgument("repo '" + name + "' must map to an object with 'path'");
    RepoEntry entry;
    for (const auto& [key, field] : value.items()) {
      if (key == "path" && field.is_string() && !field.get<std::string>().empty()) {
        entry.path = field.get<std::string>();
      } else if (key == "test_cmd" && field.is_string() && !field.get<std::string>().empty()) {
        entry.test_cmd = field.get<std::string>();
      } else if (key == "test_timeout_s" && field.is_number_integer() && field.get<int64_t>() >= 1 &&
                 field.get<int64_t>() <= kMaxTestTimeoutS) {
        entry.test_timeout_s = field.get<uint32_t>();
      } else if (key == "path" || key == "test_cmd") {
        return InvalidArgument("repo '" + name + "': '" + key + "' must be a non-empty string");
      } else if (key == "test_timeout_s") {
        return InvalidArgument("repo '" + name + "': 'test_timeout_s' must be 1 to " + std::to_string(kMaxTestTimeoutS));
      } else {
        return InvalidArgument("repo '" + name + "': unknown key '" + key + "'");
      }
    }
    if (entry.path.empty()) return InvalidArgument("repo '" + name + "': 'path' is required");
    repos.emplace(name, std::move(entry));
  }
  return repos;
}

StatusOr<std::map<std::string, RepoEntry>> LoadRepoMap(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return NotFound("cannot open repo map " + file.string());
  const json object = json::parse(in, nullptr, false);
  if (object.is_discarded()) return InvalidArgument(file.string() + ": not valid JSON");
  auto repos = ParseRepoMap(object);
  if (!repos.ok()) return repos.status().WithContext(file.string());
  return repos;
}

}  // namespace rock::envs::swebench
