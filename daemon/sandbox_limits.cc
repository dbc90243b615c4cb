#include "daemon/sandbox_limits.h"

#include <array>
#include <cmath>
#include <string>

#include "daemon/request_fields.h"

namespace rock {
namespace {

using nlohmann::json;

struct IntegerLimit {
  const char* key;
  uint64_t lo;
  uint64_t hi;
  uint64_t unit;  // API unit in the Limits field's unit
};

constexpr std::array<IntegerLimit, 6> kIntegerLimits = {{
    {"memory_mb", 16, 1 << 20, 1 << 20},
    {"pids", 8, 1 << 22, 1},
    {"disk_mb", 1, 1 << 20, 1 << 20},
    {"wall_s", 1, 7 * 24 * 3600, 1000},
    {"open_files", 16, 1 << 20, 1},
    {"output_bytes", 1024, 1ull << 30, 1},
}};

template <typename F>
void ForEachField(sandbox::Limits& limits, F f) {
  f("memory_mb", limits.memory_bytes);
  f("pids", limits.pids);
  f("disk_mb", limits.disk_bytes);
  f("wall_s", limits.wall_ms);
  f("open_files", limits.open_files);
  f("output_bytes", limits.output_bytes);
}

}  // namespace

sandbox::Limits LimitsFromDefaults(const SandboxDefaults& d) {
  sandbox::Limits limits;
  limits.memory_bytes = uint64_t{d.memory_mb} << 20;
  limits.cpu_millis = static_cast<uint32_t>(std::lround(d.cpus * 1000));
  limits.pids = d.pids;
  limits.disk_bytes = uint64_t{d.disk_mb} << 20;
  limits.wall_ms = d.wall_s * 1000;
  limits.open_files = d.open_files;
  limits.output_bytes = d.output_bytes;
  return limits;
}

StatusOr<sandbox::Limits> ApplyLimits(const json& limits, sandbox::Limits base, std::string_view where) {
  const std::string prefix(where);
  if (!limits.is_object()) return InvalidArgument("'" + prefix.substr(0, prefix.size() - 1) + "' must be an object");
  // Not a structured binding: the lambdas below capture `key`, and clang before 16 (the fuzz
  // build) cannot capture one.
  for (const auto& item : limits.items()) {
    const std::string& key = item.key();
    const json& value = item.value();
    if (key == "cpus") {
      if (!value.is_number() || !(value.get<double>() >= 0.01) || value.get<double>() > 256) {
        return InvalidArgument("'" + prefix + "cpus' must be a number from 0.01 to 256");
      }
      base.cpu_millis = static_cast<uint32_t>(std::lround(value.get<double>() * 1000));
      continue;
    }
    const auto* limit = std::find_if(kIntegerLimits.begin(), kIntegerLimits.end(),
                                     [&key](const IntegerLimit& l) { return key == l.key; });
    if (limit == kIntegerLimits.end()) return InvalidArgument("unknown field '" + prefix + key + "'");
    uint64_t given = 0;
    if (Status s = ReadUnsigned(limits, limit->key, limit->lo, limit->hi, where, &given); !s.ok()) return s;
    const uint64_t scaled = given * limit->unit;
    ForEachField(base, [&](std::string_view name, auto& field) {
      if (name == key) field = static_cast<std::remove_reference_t<decltype(field)>>(scaled);
    });
  }
  return base;
}

json LimitsToJson(const sandbox::Limits& limits) {
  json out = {{"cpus", limits.cpu_millis / 1000.0}};
  sandbox::Limits copy = limits;
  ForEachField(copy, [&](std::string_view name, auto& field) {
    const auto* limit = std::find_if(kIntegerLimits.begin(), kIntegerLimits.end(),
                                     [&name](const IntegerLimit& l) { return name == l.key; });
    out[std::string(name)] = static_cast<uint64_t>(field) / limit->unit;
  });
  return out;
}

}  // namespace rock
