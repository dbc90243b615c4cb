// rockd's configuration: the embedded defaults (daemon/rockd.default.json) overlaid with an
// optional JSON file and then with command-line flags. Unknown keys, wrong types and values
// out of range are refused with a message that names the key, so a typo never silently
// falls back to a default.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rock {

struct ListenAddress {
  std::string host;
  uint16_t port = 0;  // 0 asks the kernel for a free port
};

// "127.0.0.1:8080", "[::1]:0", "localhost:9000".
StatusOr<ListenAddress> ParseListenAddress(std::string_view text);

struct HttpConfig {
  ListenAddress listen;
  uint32_t threads = 0;
  uint64_t max_body_bytes = 0;
  uint64_t max_header_bytes = 0;
  uint32_t header_timeout_ms = 0;  // whole request head must arrive within this (slowloris)
  uint32_t body_timeout_ms = 0;
  uint32_t idle_timeout_ms = 0;  // keep-alive connection with no request
  uint32_t write_timeout_ms = 0;
  uint32_t max_connections_per_client = 0;  // HTTP and WebSocket, per client IP
};

struct EventsConfig {
  uint32_t client_queue_messages = 0;  // a /ws/events client further behind is dropped
  uint32_t stats_interval_ms = 0;
};

// Limits a sandbox gets unless its create request names others (API units).
struct SandboxDefaults {
  uint32_t memory_mb = 0;
  double cpus = 0;
  uint32_t pids = 0;
  uint32_t disk_mb = 0;
  uint32_t wall_s = 0;
  uint32_t open_files = 0;
  uint64_t output_bytes = 0;
};

struct SandboxConfig {
  std::string worker;  // rock-env; empty: next to the rockd binary
  std::string alfworld_data_dir;  // shown read-only at /data in alfworld sandboxes; empty: none
  // Shown read-only at /data in swebench sandboxes; empty: the task set installed with rockd.
  std::string swebench_data_dir;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t ready_timeout_ms = 0;
  bool favordynmods = false;  // reconfigure cgroup2 with favordynmods at startup
  SandboxDefaults defaults;

  // What a sandbox of env kind `env` sees at /data; empty: nothing.
  const std::string& DataDirFor(std::string_view env) const;
  uint32_t health_interval_ms = 0;
  uint32_t health_misses = 0;
  uint32_t backoff_initial_ms = 0;
  uint32_t backoff_max_ms = 0;
  uint32_t crash_loop_failures = 0;
  uint32_t crash_loop_window_ms = 0;
};

// The episode service (balancer/balancer.h).
struct EpisodesConfig {
  uint32_t step_timeout_ms = 0;   // a step answered later fails the episode over
  uint32_t queue_timeout_ms = 0;  // a start that finds no slot by then fails
  uint32_t idle_timeout_ms = 0;   // an episode without a step this long is cancelled
  uint32_t max_failovers = 0;
  uint32_t keep_finished = 0;     // ended episodes GET still finds in memory
  uint32_t max_per_client = 0;    // open episodes one client IP may hold through the HTTP APIs
};

// The trainer stream, /ws/trainer (docs/protocol.md).
struct StreamConfig {
  uint32_t max_trainers = 0;    // distinct trainer names (each has its own metric series)
  uint32_t max_episodes_per_trainer = 0;  // live and starting episodes of one trainer name
  uint32_t max_staleness = 0;   // policy versions an episode's first action may lag; 0: no limit
  uint32_t retain_acked_s = 0;  // acknowledged trajectories are deleted after this
};

// A pool of sandboxes serving one env kind (the key of Config::pools). The defaults are what a
// pool gets that the config or a PUT /api/v1/pools/{env} names for the first time.
struct PoolSettings {
  uint32_t min = 0;
  uint32_t max = 4;
  uint32_t slots = 1;
  uint32_t idle_s = 60;
  nlohmann::json limits = nlohmann::json::object();  // API units, over sandbox.defaults
};

struct Config {
  std::string data_dir;
  std::string log_level;
  HttpConfig http;
  std::string auth_token;  // empty: no auth
  bool allow_remote_without_token = false;  // serve a non-loopback address without a token
  EventsConfig events;
  uint32_t store_batch_max = 0;
  std::string dashboard_dir;  // empty: found next to the binary
  uint32_t drain_timeout_ms = 0;
  SandboxConfig sandbox;
  EpisodesConfig episodes;
  StreamConfig stream;
  std::map<std::string, PoolSettings> pools;
};

// The defaults compiled into the binary, as JSON text.
std::string_view DefaultConfigJson();

// Parses `overlay` (JSON text; empty means none) on top of the embedded defaults.
// `source` names the overlay in error messages ("/etc/rockd/rockd.json").
StatusOr<Config> LoadConfig(std::string_view overlay, std::string_view source);

// The effective configuration as JSON, in the file format (for --print-config); a set
// auth token is shown as "<redacted>".
nlohmann::json ConfigToJson(const Config& config);

// Accepts trace, debug, info, warn, error, critical and off.
Status ValidateLogLevel(std::string_view level);

// Checks ranges and enumerations; used after flags have been applied, too.
Status ValidateConfig(const Config& config);

// A pool's env kind, sizes and limits (over `defaults`); for the config and PUT /api/v1/pools.
Status ValidatePool(const std::string& env, const PoolSettings& pool, const SandboxDefaults& defaults);

}  // namespace rock
