#include "daemon/pool_routes.h"

#include <chrono>
#include <memory>

#include "balancer/balancer.h"
#include "daemon/request_fields.h"
#include "daemon/router.h"
#include "daemon/sandbox_limits.h"

namespace rock {
namespace {

using nlohmann::json;

PoolSettings SettingsOf(const balancer::PoolView& pool) {
  PoolSettings settings;
  settings.min = pool.config.min;
  settings.max = pool.config.max;
  settings.slots = pool.config.sandbox.slots;
  settings.idle_s = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(pool.config.idle_timeout).count());
  settings.limits = LimitsToJson(pool.config.sandbox.limits);
  return settings;
}

// The fields of a PUT body over `settings`: min, max, slots, idle_s, limits (merged field by
// field) and size, shorthand for min = max = size.
StatusOr<PoolSettings> Overlay(const json& body, PoolSettings settings) {
  if (Status s = CheckKeys(body, {"min", "max", "size", "slots", "idle_s", "limits"}, ""); !s.ok()) return s;
  uint64_t min = settings.min, max = settings.max, slots = settings.slots, idle_s = settings.idle_s, size = 0;
  for (const Status& s : {ReadUnsigned(body, "min", 0, 100'000, "", &min), ReadUnsigned(body, "max", 1, 100'000, "", &max),
                          ReadUnsigned(body, "size", 1, 100'000, "", &size),
                          ReadUnsigned(body, "slots", 1, sandbox::kMaxSlots, "", &slots),
                          ReadUnsigned(body, "idle_s", 1, 7 * 24 * 3600, "", &idle_s)}) {
    if (!s.ok()) return s;
  }
  if (body.contains("size")) {
    if (body.contains("min") || body.contains("max")) return InvalidArgument("'size' cannot be combined with 'min' or 'max'");
    min = max = size;
  } else if (body.contains("min") && !body.contains("max") && min > max) {
    max = min;  // raising the floor above the ceiling lifts the ceiling too
  } else if (body.contains("max") && !body.contains("min") && min > max) {
    min = max;
  }
  settings.min = static_cast<uint32_t>(min);
  settings.max = static_cast<uint32_t>(max);
  settings.slots = static_cast<uint32_t>(slots);
  settings.idle_s = static_cast<uint32_t>(idle_s);
  if (const auto limits = body.find("limits"); limits != body.end()) {
    if (!limits->is_object()) return InvalidArgument("'limits' must be an object");
    settings.limits.update(*limits);
  }
  return settings;
}

}  // namespace

StatusOr<balancer::PoolConfig> MakePoolConfig(const std::string& env, const PoolSettings& settings, const Config& config) {
  if (Status s = ValidatePool(env, settings, config.sandbox.defaults); !s.ok()) return s;
  StatusOr<sandbox::Limits> limits = ApplyLimits(settings.limits, LimitsFromDefaults(config.sandbox.defaults), "limits.");
  if (!limits.ok()) return limits.status();
  balancer::PoolConfig pool;
  pool.min = settings.min;
  pool.max = settings.max;
  pool.idle_timeout = std::chrono::seconds(settings.idle_s);
  pool.sandbox.env = env;
  pool.sandbox.slots = settings.slots;
  pool.sandbox.limits = *limits;
  pool.sandbox.uid = config.sandbox.uid;
  pool.sandbox.gid = config.sandbox.gid;
  pool.sandbox.data_dir = config.sandbox.DataDirFor(env);
  return pool;
}

json PoolToJson(const balancer::PoolView& pool) {
  const PoolSettings settings = SettingsOf(pool);
  return {{"env", pool.env},
          {"min", settings.min},
          {"max", settings.max},
          {"slots", settings.slots},
          {"idle_s", settings.idle_s},
          {"limits", settings.limits},
          {"sandboxes",
           {{"starting", pool.starting},
            {"ready", pool.ready},
            {"down", pool.down},
            {"quarantined", pool.quarantined},
            {"draining", pool.draining}}},
          {"slots_total", pool.slots_total},
          {"slots_busy", pool.slots_busy},
          {"queued", pool.queued},
          {"running", pool.running}};
}

void AddPoolRoutes(Router& router, balancer::Balancer& balancer, const Config& config) {
  router.Add("GET", "/api/v1/pools", [&balancer](const HttpRequest&, const PathParams&, Respond respond) {
    balancer.ListPools([respond](std::vector<balancer::PoolView> pools) {
      json items = json::array();
      for (const auto& pool : pools) items.push_back(PoolToJson(pool));
      respond(JsonResponse(200, {{"pools", std::move(items)}}));
    });
  });
  router.Add("PUT", "/api/v1/pools/{env}",
             [&balancer, &config](const HttpRequest& request, const PathParams& params, Respond respond) {
               auto body = ParseJsonObject(request);
               if (!body.ok()) return respond(ErrorResponse(body.status()));
               const std::string env = params.at("env");
               // Read the pool as it runs, overlay the request, hand it back: the balancer's strand
               // orders concurrent PUTs.
               balancer.ListPools([&balancer, &config, env, body = std::move(body).value(),
                                   respond](std::vector<balancer::PoolView> pools) {
                 PoolSettings current;  // a new pool starts from the defaults
                 for (const auto& pool : pools) {
                   if (pool.env == env) current = SettingsOf(pool);
                 }
                 StatusOr<PoolSettings> settings = Overlay(body, current);
                 if (!settings.ok()) return respond(ErrorResponse(settings.status()));
                 StatusOr<balancer::PoolConfig> pool = MakePoolConfig(env, *settings, config);
                 if (!pool.ok()) return respond(ErrorResponse(pool.status()));
                 balancer.SetPool(env, std::move(pool).value(), [respond](StatusOr<balancer::PoolView> view) {
                   if (!view.ok()) return respond(ErrorResponse(view.status()));
                   respond(JsonResponse(200, PoolToJson(*view)));
                 });
               });
             });
}

}  // namespace rock
