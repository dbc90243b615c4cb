#include "daemon/config.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <tuple>

#include <nlohmann/json.hpp>

#include "daemon/sandbox_limits.h"
#include "envs/env_kinds.h"

namespace rock {
namespace {

using json = nlohmann::json;

constexpr std::string_view kDefaultConfig =
#include "default_config.inc"
    ;

std::string JoinKey(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

std::string_view TypeName(const json& value) {
  if (value.is_number_unsigned()) return "non-negative integer";
  if (value.is_number_integer()) return "integer";
  return value.type_name();
}

// Overlays `src` onto `dst`, accepting only keys that exist in `dst` with a compatible type.
Status MergeKnownKeys(json& dst, const json& src, std::string_view path) {
  for (const auto& [key, value] : src.items()) {
    const std::string full = JoinKey(path, key);
    auto it = dst.find(key);
    if (it == dst.end()) {
      std::string known;
      for (const auto& [k, unused] : dst.items()) known += (known.empty() ? "" : ", ") + k;
      return InvalidArgument("unknown key '" + full + "' (known here: " + known + ")");
    }
    json& target = *it;
    if (target.is_object()) {
      if (!value.is_object()) {
        return InvalidArgument("'" + full + "' must be an object, got " + std::string(TypeName(value)));
      }
      if (Status s = MergeKnownKeys(target, value, full); !s.ok()) return s;
      continue;
    }
    // Defaults that are unsigned integers take only non-negative integers; strings take
    // strings; booleans take booleans. Floats are never accepted where integers belong.
    const bool compatible = (target.is_number_unsigned() && value.is_number_unsigned()) ||
                            (target.is_number_float() && value.is_number()) ||
                            (target.is_string() && value.is_string()) ||
                            (target.is_boolean() && value.is_boolean());
    if (!compatible) {
      return InvalidArgument("'" + full + "' must be a " + std::string(TypeName(target)) + ", got " +
                             std::string(TypeName(value)) + " " + value.dump());
    }
    target = value;
  }
  return Status::Ok();
}

Status TakeU32(const json& section, std::string_view path, const char* key, uint32_t* out) {
  const uint64_t value = section.at(key).get<uint64_t>();
  if (value > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgument("'" + JoinKey(path, key) + "' is too large: " + std::to_string(value));
  }
  *out = static_cast<uint32_t>(value);
  return Status::Ok();
}

Status CheckRange(std::string_view key, uint64_t value, uint64_t lo, uint64_t hi) {
  if (value >= lo && value <= hi) return Status::Ok();
  return InvalidArgument("'" + std::string(key) + "' must be between " + std::to_string(lo) + " and " +
                         std::to_string(hi) + ", got " + std::to_string(value));
}

// A pool named in an overlay but not in the defaults starts from this.
json PoolTemplate() {
  const PoolSettings fresh;
  return {{"min", fresh.min}, {"max", fresh.max}, {"slots", fresh.slots}, {"idle_s", fresh.idle_s}, {"limits", fresh.limits}};
}

// Overlays the overlay's pools: known pools field by field, new ones onto PoolTemplate(). A
// pool's limits are replaced whole: they are a partial set over sandbox.defaults.
Status MergePools(json& dst, const json& src) {
  if (!src.is_object()) return InvalidArgument("'pools' must be an object keyed by env kind");
  for (const auto& [env, value] : src.items()) {
    const std::string path = "pools." + env;
    if (!value.is_object()) return InvalidArgument("'" + path + "' must be an object");
    json fields = value;
    json limits = fields.contains("limits") ? fields["limits"] : json();
    fields.erase("limits");
    json& target = dst.contains(env) ? dst[env] : (dst[env] = PoolTemplate());
    if (Status s = MergeKnownKeys(target, fields, path); !s.ok()) return s;
    if (!limits.is_null()) {
      if (!limits.is_object()) return InvalidArgument("'" + path + ".limits' must be an object");
      target["limits"] = limits;
    }
  }
  return Status::Ok();
}

StatusOr<Config> FromJson(const json& j) {
  Config c;
  c.data_dir = j.at("data_dir").get<std::string>();
  c.log_level = j.at("log_level").get<std::string>();

  const json& http = j.at("http");
  auto listen = ParseListenAddress(http.at("listen").get<std::string>());
  if (!listen.ok()) return listen.status().WithContext("'http.listen'");
  c.http.listen = *listen;
  c.http.max_body_bytes = http.at("max_body_bytes").get<uint64_t>();
  c.http.max_header_bytes = http.at("max_header_bytes").get<uint64_t>();
  for (auto [key, field] : std::array<std::pair<const char*, uint32_t*>, 6>{{
           {"threads", &c.http.threads},
           {"max_connections_per_client", &c.http.max_connections_per_client},
           {"header_timeout_ms", &c.http.header_timeout_ms},
           {"body_timeout_ms", &c.http.body_timeout_ms},
           {"idle_timeout_ms", &c.http.idle_timeout_ms},
           {"write_timeout_ms", &c.http.write_timeout_ms},
       }}) {
    if (Status s = TakeU32(http, "http", key, field); !s.ok()) return s;
  }

  c.auth_token = j.at("auth").at("token").get<std::string>();
  c.allow_remote_without_token = j.at("auth").at("allow_remote_without_token").get<bool>();

  const json& events = j.at("events");
  if (Status s = TakeU32(events, "events", "client_queue_messages", &c.events.client_queue_messages); !s.ok()) {
    return s;
  }
  if (Status s = TakeU32(events, "events", "stats_interval_ms", &c.events.stats_interval_ms); !s.ok()) return s;
  if (Status s = TakeU32(j.at("store"), "store", "batch_max", &c.store_batch_max); !s.ok()) return s;
  c.dashboard_dir = j.at("dashboard").at("dir").get<std::string>();
  if (Status s = TakeU32(j.at("shutdown"), "shutdown", "drain_timeout_ms", &c.drain_timeout_ms); !s.ok()) return s;

  const json& sandbox = j.at("sandbox");
  SandboxConfig& sc = c.sandbox;
  sc.worker = sandbox.at("worker").get<std::string>();
  sc.favordynmods = sandbox.at("favordynmods").get<bool>();
  sc.alfworld_data_dir = j.at("alfworld").at("data_dir").get<std::string>();
  sc.swebench_data_dir = j.at("swebench").at("data_dir").get<std::string>();
  const json& defaults = sandbox.at("defaults");
  sc.defaults.cpus = defaults.at("cpus").get<double>();
  sc.defaults.output_bytes = defaults.at("output_bytes").get<uint64_t>();
  struct U32Field {
    const json& section;
    const char* path;
    const char* key;
    uint32_t* out;
  };
  const json& health = j.at("health");
  const json& restart = j.at("restart");
  const json& episodes = j.at("episodes");
  const json& stream = j.at("stream");
  for (const U32Field& f : {
           U32Field{sandbox, "sandbox", "uid", &sc.uid},
           U32Field{sandbox, "sandbox", "gid", &sc.gid},
           U32Field{sandbox, "sandbox", "ready_timeout_ms", &sc.ready_timeout_ms},
           U32Field{defaults, "sandbox.defaults", "memory_mb", &sc.defaults.memory_mb},
           U32Field{defaults, "sandbox.defaults", "pids", &sc.defaults.pids},
           U32Field{defaults, "sandbox.defaults", "disk_mb", &sc.defaults.disk_mb},
           U32Field{defaults, "sandbox.defaults", "wall_s", &sc.defaults.wall_s},
           U32Field{defaults, "sandbox.defaults", "open_files", &sc.defaults.open_files},
           U32Field{health, "health", "interval_ms", &sc.health_interval_ms},
           U32Field{health, "health", "misses", &sc.health_misses},
           U32Field{restart, "restart", "backoff_initial_ms", &sc.backoff_initial_ms},
           U32Field{restart, "restart", "backoff_max_ms", &sc.backoff_max_ms},
           U32Field{restart, "restart", "crash_loop_failures", &sc.crash_loop_failures},
           U32Field{restart, "restart", "crash_loop_window_ms", &sc.crash_loop_window_ms},
           U32Field{episodes, "episodes", "step_timeout_ms", &c.episodes.step_timeout_ms},
           U32Field{episodes, "episodes", "queue_timeout_ms", &c.episodes.queue_timeout_ms},
           U32Field{episodes, "episodes", "idle_timeout_ms", &c.episodes.idle_timeout_ms},
           U32Field{episodes, "episodes", "max_failovers", &c.episodes.max_failovers},
           U32Field{episodes, "episodes", "keep_finished", &c.episodes.keep_finished},
           U32Field{episodes, "episodes", "max_per_client", &c.episodes.max_per_client},
           U32Field{stream, "stream", "max_trainers", &c.stream.max_trainers},
           U32Field{stream, "stream", "max_episodes_per_trainer", &c.stream.max_episodes_per_trainer},
           U32Field{stream, "stream", "max_staleness", &c.stream.max_staleness},
           U32Field{stream, "stream", "retain_acked_s", &c.stream.retain_acked_s},
       }) {
    if (Status s = TakeU32(f.section, f.path, f.key, f.out); !s.ok()) return s;
  }
  for (const auto& [env, pool] : j.at("pools").items()) {
    const std::string path = "pools." + env;
    PoolSettings& settings = c.pools[env];
    for (auto [key, field] : std::array<std::pair<const char*, uint32_t*>, 4>{{
             {"min", &settings.min},
             {"max", &settings.max},
             {"slots", &settings.slots},
             {"idle_s", &settings.idle_s},
         }}) {
      if (Status s = TakeU32(pool, path, key, field); !s.ok()) return s;
    }
    settings.limits = pool.at("limits");
  }
  return c;
}

}  // namespace

StatusOr<ListenAddress> ParseListenAddress(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("expected [IPV6]:PORT, got '" + std::string(text) + "'");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return InvalidArgument("expected HOST:PORT, got '" + std::string(text) + "'");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || port.empty() || err != std::errc() || end != port.data() + port.size() || value > 65535) {
    return InvalidArgument("expected HOST:PORT with a port from 0 to 65535, got '" + std::string(text) + "'");
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(value)};
}

std::string_view DefaultConfigJson() { return kDefaultConfig; }

StatusOr<Config> LoadConfig(std::string_view overlay, std::string_view source) {
  json merged = json::parse(kDefaultConfig);
  if (!overlay.empty()) {
    json user;
    try {
      user = json::parse(overlay);
    } catch (const json::exception& e) {
      // Not only parse_error: a number too large for a double is out_of_range.
      return InvalidArgument(std::string(source) + ": invalid JSON: " + e.what());
    }
    if (!user.is_object()) return InvalidArgument(std::string(source) + ": the top level must be a JSON object");
    // Pools are keyed by env kind: an overlay may name one the defaults lack.
    json pools;
    if (const auto it = user.find("pools"); it != user.end()) {
      pools = *it;
      user.erase(it);
    }
    if (Status s = MergeKnownKeys(merged, user, ""); !s.ok()) return s.WithContext(source);
    if (!pools.is_null()) {
      if (Status s = MergePools(merged["pools"], pools); !s.ok()) return s.WithContext(source);
    }
  }
  auto config = FromJson(merged);
  if (!config.ok()) return config.status().WithContext(source.empty() ? "defaults" : source);
  if (Status s = ValidateConfig(*config); !s.ok()) return s.WithContext(source.empty() ? "defaults" : source);
  return config;
}

Status ValidateLogLevel(std::string_view level) {
  static constexpr std::array<std::string_view, 7> kLevels = {"trace", "debug", "info", "warn",
                                                              "error", "critical", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), level) != kLevels.end()) return Status::Ok();
  return InvalidArgument("'log_level' must be one of trace, debug, info, warn, error, critical, off; got '" +
                         std::string(level) + "'");
}

const std::string& SandboxConfig::DataDirFor(std::string_view env) const {
  static const std::string kNone;
  if (env == "alfworld") return alfworld_data_dir;
  if (env == "swebench") return swebench_data_dir;
  return kNone;
}

Status ValidateConfig(const Config& c) {
  if (c.data_dir.empty()) return InvalidArgument("'data_dir' must not be empty");
  if (Status s = ValidateLogLevel(c.log_level); !s.ok()) return s;
  constexpr uint64_t kDay = 24ull * 3600 * 1000;
  const SandboxConfig& sc = c.sandbox;
  for (const auto& [key, dir] : {std::pair{"alfworld.data_dir", &sc.alfworld_data_dir}, std::pair{"swebench.data_dir", &sc.swebench_data_dir}}) {
    if (!dir->empty() && dir->front() != '/') return InvalidArgument("'" + std::string(key) + "' must be empty or an absolute path");
  }
  if (!(sc.defaults.cpus >= 0.01 && sc.defaults.cpus <= 256)) {
    return InvalidArgument("'sandbox.defaults.cpus' must be between 0.01 and 256");
  }
  const std::array<std::tuple<std::string_view, uint64_t, uint64_t, uint64_t>, 37> ranges = {{
      {"http.threads", c.http.threads, 1, 64},
      {"http.max_body_bytes", c.http.max_body_bytes, 1, 1ull << 30},
      {"http.max_header_bytes", c.http.max_header_bytes, 1024, 1ull << 20},
      {"http.header_timeout_ms", c.http.header_timeout_ms, 1, kDay},
      {"http.body_timeout_ms", c.http.body_timeout_ms, 1, kDay},
      {"http.idle_timeout_ms", c.http.idle_timeout_ms, 1, kDay},
      {"http.write_timeout_ms", c.http.write_timeout_ms, 1, kDay},
      {"http.max_connections_per_client", c.http.max_connections_per_client, 1, 1 << 20},
      {"events.client_queue_messages", c.events.client_queue_messages, 1, 1'000'000},
      {"events.stats_interval_ms", c.events.stats_interval_ms, 1, kDay},
      {"store.batch_max", c.store_batch_max, 1, 100'000},
      {"shutdown.drain_timeout_ms", c.drain_timeout_ms, 1, 60'000},
      {"sandbox.uid", sc.uid, 1, 4'294'967'294},
      {"sandbox.gid", sc.gid, 1, 4'294'967'294},
      {"sandbox.ready_timeout_ms", sc.ready_timeout_ms, 10, kDay},
      {"sandbox.defaults.memory_mb", sc.defaults.memory_mb, 16, 1 << 20},
      {"sandbox.defaults.pids", sc.defaults.pids, 8, 1 << 22},
      {"sandbox.defaults.disk_mb", sc.defaults.disk_mb, 1, 1 << 20},
      {"sandbox.defaults.wall_s", sc.defaults.wall_s, 1, 7 * 24 * 3600},
      {"sandbox.defaults.open_files", sc.defaults.open_files, 16, 1 << 20},
      {"sandbox.defaults.output_bytes", sc.defaults.output_bytes, 1024, 1ull << 30},
      {"health.interval_ms", sc.health_interval_ms, 10, kDay},
      {"health.misses", sc.health_misses, 1, 1000},
      {"restart.backoff_initial_ms", sc.backoff_initial_ms, 1, kDay},
      {"restart.backoff_max_ms", sc.backoff_max_ms, 1, kDay},
      {"restart.crash_loop_failures", sc.crash_loop_failures, 1, 1000},
      {"restart.crash_loop_window_ms", sc.crash_loop_window_ms, 1, kDay},
      {"episodes.step_timeout_ms", c.episodes.step_timeout_ms, 1, kDay},
      {"episodes.queue_timeout_ms", c.episodes.queue_timeout_ms, 1, kDay},
      {"episodes.idle_timeout_ms", c.episodes.idle_timeout_ms, 1, kDay},
      {"episodes.max_failovers", c.episodes.max_failovers, 0, 1000},
      {"episodes.keep_finished", c.episodes.keep_finished, 0, 1'000'000},
      {"episodes.max_per_client", c.episodes.max_per_client, 1, 1'000'000},
      {"stream.max_trainers", c.stream.max_trainers, 1, 10'000},
      {"stream.max_episodes_per_trainer", c.stream.max_episodes_per_trainer, 1, 1'000'000},
      {"stream.max_staleness", c.stream.max_staleness, 0, 1'000'000},
      {"stream.retain_acked_s", c.stream.retain_acked_s, 0, 365 * 24 * 3600},
  }};
  for (const auto& [key, value, lo, hi] : ranges) {
    if (Status s = CheckRange(key, value, lo, hi); !s.ok()) return s;
  }
  for (const auto& [env, pool] : c.pools) {
    if (Status s = ValidatePool(env, pool, sc.defaults); !s.ok()) return s.WithContext("'pools." + env + "'");
  }
  return Status::Ok();
}

Status ValidatePool(const std::string& env, const PoolSettings& pool, const SandboxDefaults& defaults) {
  if (!envs::HasEpisodes(env)) {
    std::string kinds;
    for (std::string_view kind : envs::kEnvKinds) {
      if (envs::HasEpisodes(kind)) kinds += (kinds.empty() ? "" : ", ") + std::string(kind);
    }
    return InvalidArgument("no env kind with episodes is called '" + env + "' (known: " + kinds + ")");
  }
  if (Status s = CheckRange("max", pool.max, 1, 100'000); !s.ok()) return s;
  if (Status s = CheckRange("min", pool.min, 0, pool.max); !s.ok()) return s;
  if (Status s = CheckRange("slots", pool.slots, 1, sandbox::kMaxSlots); !s.ok()) return s;
  if (Status s = CheckRange("idle_s", pool.idle_s, 1, 7 * 24 * 3600); !s.ok()) return s;
  return ApplyLimits(pool.limits, LimitsFromDefaults(defaults), "limits.").status();
}

nlohmann::json ConfigToJson(const Config& c) {
  json pools = json::object();
  for (const auto& [env, pool] : c.pools) {
    pools[env] = {{"min", pool.min}, {"max", pool.max}, {"slots", pool.slots}, {"idle_s", pool.idle_s}, {"limits", pool.limits}};
  }
  const std::string listen = c.http.listen.host.find(':') != std::string::npos
                                 ? "[" + c.http.listen.host + "]:" + std::to_string(c.http.listen.port)
                                 : c.http.listen.host + ":" + std::to_string(c.http.listen.port);
  return json{
      {"data_dir", c.data_dir},
      {"log_level", c.log_level},
      {"http",
       {{"listen", listen},
        {"threads", c.http.threads},
        {"max_body_bytes", c.http.max_body_bytes},
        {"max_header_bytes", c.http.max_header_bytes},
        {"header_timeout_ms", c.http.header_timeout_ms},
        {"body_timeout_ms", c.http.body_timeout_ms},
        {"idle_timeout_ms", c.http.idle_timeout_ms},
        {"write_timeout_ms", c.http.write_timeout_ms},
        {"max_connections_per_client", c.http.max_connections_per_client}}},
      // The token is a secret: printed configs end up in logs and tickets.
      {"auth",
       {{"token", c.auth_token.empty() ? "" : "<redacted>"},
        {"allow_remote_without_token", c.allow_remote_without_token}}},
      {"events",
       {{"client_queue_messages", c.events.client_queue_messages},
        {"stats_interval_ms", c.events.stats_interval_ms}}},
      {"store", {{"batch_max", c.store_batch_max}}},
      {"dashboard", {{"dir", c.dashboard_dir}}},
      {"shutdown", {{"drain_timeout_ms", c.drain_timeout_ms}}},
      {"sandbox",
       {{"worker", c.sandbox.worker},
        {"uid", c.sandbox.uid},
        {"gid", c.sandbox.gid},
        {"ready_timeout_ms", c.sandbox.ready_timeout_ms},
        {"favordynmods", c.sandbox.favordynmods},
        {"defaults",
         {{"memory_mb", c.sandbox.defaults.memory_mb},
          {"cpus", c.sandbox.defaults.cpus},
          {"pids", c.sandbox.defaults.pids},
          {"disk_mb", c.sandbox.defaults.disk_mb},
          {"wall_s", c.sandbox.defaults.wall_s},
          {"open_files", c.sandbox.defaults.open_files},
          {"output_bytes", c.sandbox.defaults.output_bytes}}}}},
      {"alfworld", {{"data_dir", c.sandbox.alfworld_data_dir}}},
      {"swebench", {{"data_dir", c.sandbox.swebench_data_dir}}},
      {"health", {{"interval_ms", c.sandbox.health_interval_ms}, {"misses", c.sandbox.health_misses}}},
      {"restart",
       {{"backoff_initial_ms", c.sandbox.backoff_initial_ms},
        {"backoff_max_ms", c.sandbox.backoff_max_ms},
        {"crash_loop_failures", c.sandbox.crash_loop_failures},
        {"crash_loop_window_ms", c.sandbox.crash_loop_window_ms}}},
      {"episodes",
       {{"step_timeout_ms", c.episodes.step_timeout_ms},
        {"queue_timeout_ms", c.episodes.queue_timeout_ms},
        {"idle_timeout_ms", c.episodes.idle_timeout_ms},
        {"max_failovers", c.episodes.max_failovers},
        {"keep_finished", c.episodes.keep_finished},
        {"max_per_client", c.episodes.max_per_client}}},
      {"stream",
       {{"max_trainers", c.stream.max_trainers},
        {"max_episodes_per_trainer", c.stream.max_episodes_per_trainer},
        {"max_staleness", c.stream.max_staleness},
        {"retain_acked_s", c.stream.retain_acked_s}}},
      {"pools", pools},
  };
}

}  // namespace rock
