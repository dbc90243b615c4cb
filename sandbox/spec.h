// What a sandbox is: its limits, network and identity. rockd builds a Spec from the API request
// and pool config; the launcher sends it (as JSON) to the worker, which contains itself by it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace rock::sandbox {

enum class Network {
  kNone,      // own network namespace, loopback down: no network at all
  kLoopback,  // own network namespace with loopback up: the sandbox talks only to itself
};

struct Limits {
  uint64_t memory_bytes = 512ull << 20;  // cgroup memory (tmpfs pages count here too)
  uint32_t cpu_millis = 1000;            // CPU quota; 1000 = one core
  uint32_t pids = 256;                   // processes and threads, cgroup pids
  uint64_t disk_bytes = 256ull << 20;    // size of each writable tmpfs (/workspace, /tmp)
  uint32_t wall_ms = 300'000;            // longest run of one exec; its timeout is clamped to it
  uint32_t open_files = 1024;            // RLIMIT_NOFILE
  uint64_t output_bytes = 1ull << 20;    // stdout and stderr kept per exec, each

  bool operator==(const Limits&) const = default;
};

// Where a sandbox sees its Spec::data_dir (an env's read-only data, e.g. ALFWorld's games).
inline constexpr const char* kSandboxDataDir = "/data";

// Each slot holds one episode's env in the worker's memory.
inline constexpr uint32_t kMaxSlots = 4096;

struct Spec {
  std::string id;           // [a-z0-9-]{1,48}; names the cgroup and the state directory
  std::string env = "shell";  // env kind the worker serves
  uint32_t slots = 1;         // episodes the worker serves at once (env kinds with episodes)
  Limits limits;
  Network network = Network::kNone;
  uid_t uid = 65534;  // unprivileged identity inside (nobody)
  gid_t gid = 65534;
  std::string root_dir;  // empty host directory the worker mounts its root on
  std::string data_dir;  // host directory the sandbox sees read-only at kSandboxDataDir; empty: none

  bool operator==(const Spec&) const = default;
};

// A fresh random id, "sb-" and 12 hex digits.
std::string NewSandboxId();

// Checks ids, ranges and the env kind's name; messages name the field.
Status ValidateSpec(const Spec& spec);

nlohmann::json SpecToJson(const Spec& spec);
StatusOr<Spec> SpecFromJson(const nlohmann::json& json);

}  // namespace rock::sandbox
