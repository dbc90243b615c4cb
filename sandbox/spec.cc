#include "sandbox/spec.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/random_id.h"

namespace rock::sandbox {
namespace {

bool ValidId(const std::string& id) {
  return !id.empty() && id.size() <= 48 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Status Range(const char* field, uint64_t value, uint64_t lo, uint64_t hi) {
  if (value >= lo && value <= hi) return Status::Ok();
  return InvalidArgument(std::string("'") + field + "' must be between " + std::to_string(lo) + " and " +
                         std::to_string(hi) + ", got " + std::to_string(value));
}

}  // namespace

Status ValidateSpec(const Spec& spec) {
  if (!ValidId(spec.id)) return InvalidArgument("'id' must be 1-48 characters of a-z, 0-9 and '-'");
  if (!ValidId(spec.env)) return InvalidArgument("'env' must be 1-48 characters of a-z, 0-9 and '-'");
  if (Status s = Range("slots", spec.slots, 1, kMaxSlots); !s.ok()) return s;
  const Limits& l = spec.limits;
  for (const Status& s : {Range("limits.memory_mb", l.memory_bytes >> 20, 16, 1 << 20),
                          Range("limits.cpus (millis)", l.cpu_millis, 10, 256'000),
                          Range("limits.pids", l.pids, 8, 1 << 22),
                          Range("limits.disk_mb", l.disk_bytes >> 20, 1, 1 << 20),
                          Range("limits.wall_s (ms)", l.wall_ms, 100, 7 * 24 * 3600 * 1000u),
                          Range("limits.open_files", l.open_files, 16, 1 << 20),
                          Range("limits.output_bytes", l.output_bytes, 1024, 1ull << 30)}) {
    if (!s.ok()) return s;
  }
  if (spec.uid == 0 || spec.gid == 0) return InvalidArgument("sandboxes never run as uid or gid 0");
  if (spec.root_dir.empty() || spec.root_dir.front() != '/') {
    return InvalidArgument("'root_dir' must be an absolute path");
  }
  if (!spec.data_dir.empty() && spec.data_dir.front() != '/') {
    return InvalidArgument("'data_dir' must be empty or an absolute path");
  }
  return Status::Ok();
}

nlohmann::json SpecToJson(const Spec& spec) {
  const Limits& l = spec.limits;
  return {{"id", spec.id},
          {"env", spec.env},
          {"slots", spec.slots},
          {"limits",
           {{"memory_bytes", l.memory_bytes},
            {"cpu_millis", l.cpu_millis},
            {"pids", l.pids},
            {"disk_bytes", l.disk_bytes},
            {"wall_ms", l.wall_ms},
            {"open_files", l.open_files},
            {"output_bytes", l.output_bytes}}},
          {"network", spec.network == Network::kLoopback ? "loopback" : "none"},
          {"uid", spec.uid},
          {"gid", spec.gid},
          {"root_dir", spec.root_dir},
          {"data_dir", spec.data_dir}};
}

StatusOr<Spec> SpecFromJson(const nlohmann::json& json) {
  Spec spec;
  try {
    spec.id = json.at("id").get<std::string>();
    spec.env = json.at("env").get<std::string>();
    spec.slots = json.at("slots").get<uint32_t>();
    const auto& l = json.at("limits");
    spec.limits.memory_bytes = l.at("memory_bytes").get<uint64_t>();
    spec.limits.cpu_millis = l.at("cpu_millis").get<uint32_t>();
    spec.limits.pids = l.at("pids").get<uint32_t>();
    spec.limits.disk_bytes = l.at("disk_bytes").get<uint64_t>();
    spec.limits.wall_ms = l.at("wall_ms").get<uint32_t>();
    spec.limits.open_files = l.at("open_files").get<uint32_t>();
    spec.limits.output_bytes = l.at("output_bytes").get<uint64_t>();
    const std::string network = json.at("network").get<std::string>();
    if (network != "none" && network != "loopback") return InvalidArgument("'network' must be none or loopback");
    spec.network = network == "loopback" ? Network::kLoopback : Network::kNone;
    spec.uid = json.at("uid").get<uid_t>();
    spec.gid = json.at("gid").get<gid_t>();
    spec.root_dir = json.at("root_dir").get<std::string>();
    spec.data_dir = json.at("data_dir").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("sandbox spec: ") + e.what());
  }
  if (Status s = ValidateSpec(spec); !s.ok()) return s;
  return spec;
}

std::string NewSandboxId() { return NewRandomId("sb"); }

}  // namespace rock::sandbox
