// Sandbox limits in the API's units (memory_mb, cpus, pids, disk_mb, wall_s, open_files,
// output_bytes), shared by sandbox create requests, pool requests and the config's pools.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "daemon/config.h"
#include "sandbox/spec.h"

namespace rock {

sandbox::Limits LimitsFromDefaults(const SandboxDefaults& defaults);

// Overlays the fields of `limits` (a JSON object) on `base`. Unknown fields, wrong types and
// values out of range are InvalidArgument naming the field as `where` + key ("limits.pids").
StatusOr<sandbox::Limits> ApplyLimits(const nlohmann::json& limits, sandbox::Limits base, std::string_view where);

nlohmann::json LimitsToJson(const sandbox::Limits& limits);

}  // namespace rock
