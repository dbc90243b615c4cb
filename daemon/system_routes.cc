#include "daemon/system_routes.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/log.h"
#include "daemon/auth.h"
#include "daemon/build_info.h"
#include "daemon/metrics.h"
#include "daemon/router.h"
#include "daemon/store.h"

namespace rock {

void AddSystemRoutes(Router& router, const SystemRoutesContext& context) {
  router.AddSync("GET", "/healthz", [](const HttpRequest&, const PathParams&) {
    static const std::string kBody = R"({"status":"ok"})";
    HttpResponse response;
    response.body = kBody;
    return response;
  });

  router.AddSync("GET", "/readyz", [&ready = context.ready, pools_ready = context.pools_ready](const HttpRequest&,
                                                                                              const PathParams&) {
    if (!ready.load()) return ErrorResponse(503, "unavailable", "rockd is starting: store or listener not ready");
    if (!pools_ready()) return ErrorResponse(503, "unavailable", "pools are below their minimum of ready sandboxes");
    return JsonResponse(200, {{"status", "ready"}});
  });

  router.AddSync("GET", "/metrics", [&metrics = context.metrics](const HttpRequest&, const PathParams&) {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics.Serialize();
    return response;
  });

  // Turning up logging on a live daemon, without a restart that would lose its state.
  router.AddSync("GET", "/api/v1/log-level", [](const HttpRequest&, const PathParams&) {
    return JsonResponse(200, {{"level", CurrentLogLevel()}});
  });
  router.AddSync("PUT", "/api/v1/log-level", [](const HttpRequest& request, const PathParams&) {
    auto body = ParseJsonObject(request);
    if (!body.ok()) return ErrorResponse(body.status());
    const auto level = body->find("level");
    if (level == body->end() || !level->is_string()) {
      return ErrorResponse(InvalidArgument("'level' must be a string"));
    }
    const std::string wanted = level->get<std::string>();
    if (Status s = ValidateLogLevel(wanted); !s.ok()) return ErrorResponse(s);
    SetLogLevel(wanted);
    spdlog::info("log level set to {}", wanted);
    return JsonResponse(200, {{"level", wanted}});
  });

  // What this rockd serves and which of it needs the token; read when a route is called, so it
  // includes routes registered after this one.
  router.AddSync("GET", "/api/v1/routes", [&router](const HttpRequest&, const PathParams&) {
    nlohmann::json routes = nlohmann::json::array();
    for (const Router::RouteInfo& route : router.Routes()) {
      routes.push_back({{"method", route.method}, {"path", route.pattern}, {"needs_token", NeedsToken(route.pattern)}});
    }
    return JsonResponse(200, {{"routes", std::move(routes)}});
  });

  router.AddSync("GET", "/api/v1/info", [context](const HttpRequest&, const PathParams&) {
    const auto now = std::chrono::system_clock::now();
    const auto ms = [](std::chrono::system_clock::time_point t) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    };
    return JsonResponse(
        200, {{"name", "rockd"},
              {"version", build_info::Version()},
              {"git_revision", build_info::GitRevision()},
              {"build",
               {{"type", build_info::BuildType()},
                {"compiler", build_info::Compiler()},
                {"cuda", build_info::CudaEnabled()},
                {"sanitizers", build_info::SanitizersEnabled()}}},
              {"pid", getpid()},
              {"started_at_ms", ms(context.started)},
              {"uptime_s", std::chrono::duration<double>(now - context.started).count()},
              {"listen", {{"host", context.config.http.listen.host}, {"port", context.port.load()}}},
              {"data_dir", context.config.data_dir},
              {"store", {{"path", context.store.path().string()}, {"schema_version", context.store.schema_version()}}},
              {"auth", !context.config.auth_token.empty()}});
  });
}

}  // namespace rock
