#include "daemon/sandbox_routes.h"

#include <cmath>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon/router.h"
#include "daemon/sandbox_files.h"
#include "daemon/request_fields.h"
#include "daemon/sandbox_limits.h"
#include "daemon/store.h"
#include "envs/env_kinds.h"
#include "sandbox/supervisor.h"

namespace rock {
namespace {

using nlohmann::json;
using sandbox::SandboxStatus;
using sandbox::Supervisor;

StatusOr<sandbox::Spec> SpecFromRequest(const json& body, const Config& config) {
  if (Status s = CheckKeys(body, {"env", "slots", "limits", "network", "labels"}, ""); !s.ok()) return s;
  sandbox::Spec spec;
  spec.id = sandbox::NewSandboxId();
  spec.uid = config.sandbox.uid;
  spec.gid = config.sandbox.gid;
  const json env = body.value("env", json("shell"));
  if (!env.is_string() || !envs::IsEnvKind(env.get<std::string>())) {
    return InvalidArgument(fmt::format("'env' must be one of: {}", fmt::join(envs::kEnvKinds, ", ")));
  }
  spec.env = env.get<std::string>();
  uint64_t slots = 1;
  if (Status s = ReadUnsigned(body, "slots", 1, sandbox::kMaxSlots, "", &slots); !s.ok()) return s;
  spec.slots = static_cast<uint32_t>(slots);
  spec.data_dir = config.sandbox.DataDirFor(spec.env);
  const json network = body.value("network", json("none"));
  if (network != "none" && network != "loopback") return InvalidArgument("'network' must be \"none\" or \"loopback\"");
  spec.network = network == "loopback" ? sandbox::Network::kLoopback : sandbox::Network::kNone;

  spec.limits = LimitsFromDefaults(config.sandbox.defaults);
  if (const auto limits = body.find("limits"); limits != body.end()) {
    StatusOr<sandbox::Limits> applied = ApplyLimits(*limits, spec.limits, "limits.");
    if (!applied.ok()) return applied.status();
    spec.limits = *applied;
  }
  if (body.contains("labels")) {
    const json& labels = body["labels"];
    if (!labels.is_object()) return InvalidArgument("'labels' must be an object of strings");
    for (const auto& [key, value] : labels.items()) {
      if (!value.is_string()) return InvalidArgument("label '" + key + "' must be a string");
    }
  }
  return spec;
}

// An exec API request as the worker's exec message.
StatusOr<json> ExecFromRequest(const json& body) {
  if (Status s = CheckKeys(body, {"cmd", "timeout_s", "stdin", "env", "cwd", "max_output_bytes"}, ""); !s.ok()) {
    return s;
  }
  json exec = json::object();
  const auto cmd = body.find("cmd");
  if (cmd == body.end()) return InvalidArgument("'cmd' is required: an argv array or a shell string");
  if (cmd->is_string() && !cmd->get<std::string>().empty()) {
    exec["shell"] = *cmd;
  } else if (cmd->is_array() && !cmd->empty() &&
             std::all_of(cmd->begin(), cmd->end(), [](const json& a) { return a.is_string(); })) {
    exec["argv"] = *cmd;
  } else {
    return InvalidArgument("'cmd' must be a non-empty shell string or a non-empty array of strings");
  }
  if (body.contains("timeout_s")) {
    if (!body["timeout_s"].is_number() || !(body["timeout_s"].get<double>() > 0)) {
      return InvalidArgument("'timeout_s' must be a positive number");
    }
    exec["timeout_ms"] = static_cast<int64_t>(std::ceil(body["timeout_s"].get<double>() * 1000));
  }
  for (const char* key : {"stdin", "cwd"}) {
    if (!body.contains(key)) continue;
    if (!body[key].is_string()) return InvalidArgument(std::string("'") + key + "' must be a string");
    exec[key] = body[key];
  }
  if (body.contains("env")) {
    const json& env = body["env"];
    if (!env.is_object()) return InvalidArgument("'env' must be an object of strings");
    for (const auto& [key, value] : env.items()) {
      if (!value.is_string() || key.empty() || key.find('=') != std::string::npos) {
        return InvalidArgument("'env' must map variable names (no '=') to strings");
      }
    }
    exec["env"] = env;
  }
  if (body.contains("max_output_bytes")) {
    uint64_t max = 0;
    if (Status s = ReadUnsigned(body, "max_output_bytes", 0, 1ull << 30, "", &max); !s.ok()) return s;
    exec["max_output_bytes"] = max;
  }
  return exec;
}

class SandboxApi {
 public:
  SandboxApi(Supervisor& supervisor, Store& store, const Config& config)
      : supervisor_(supervisor), store_(store), config_(config) {}

  json ToJson(const SandboxStatus& s) {
    const auto& l = s.spec.limits;
    json transitions = json::array();
    for (const auto& t : s.transitions) {
      transitions.push_back({{"from", t.from ? json(sandbox::StateName(*t.from)) : json(nullptr)},
                             {"to", sandbox::StateName(t.to)},
                             {"reason", t.reason},
                             {"ts_ms", t.ts_ms}});
    }
    json out = {{"id", s.spec.id},
                {"env", s.spec.env},
                {"slots", s.spec.slots},
                {"state", sandbox::StateName(s.state)},
                {"pid", s.pid},
                {"cgroup", s.cgroup},
                {"restarts", s.restarts},
                {"created_at_ms", s.created_ms},
                {"state_since_ms", s.state_since_ms},
                {"health", {{"last_pong_ms", s.last_pong_ms}, {"missed_heartbeats", s.missed_heartbeats}}},
                {"limits",
                 {{"memory_mb", l.memory_bytes >> 20},
                  {"cpus", l.cpu_millis / 1000.0},
                  {"pids", l.pids},
                  {"disk_mb", l.disk_bytes >> 20},
                  {"wall_s", l.wall_ms / 1000.0},
                  {"open_files", l.open_files},
                  {"output_bytes", l.output_bytes}}},
                {"network", s.spec.network == sandbox::Network::kLoopback ? "loopback" : "none"},
                {"labels", Labels(s.spec.id)},
                {"last_error", s.last_error},
                {"transitions", std::move(transitions)}};
    if (s.usage) {
      out["usage"] = {{"memory_bytes", s.usage->memory_bytes},
                      {"memory_peak_bytes", s.usage->memory_peak_bytes},
                      {"cpu_seconds", static_cast<double>(s.usage->cpu_ns) / 1e9},
                      {"pids", s.usage->pids},
                      {"oom_kills", s.usage->oom_kills}};
    }
    return out;
  }

  json Labels(const std::string& id) {
    std::lock_guard lock(mutex_);
    const auto it = labels_.find(id);
    return it == labels_.end() ? json::object() : it->second;
  }

  void Create(const HttpRequest& request, Respond respond) {
    auto body = ParseJsonObject(request);
    if (!body.ok()) return respond(ErrorResponse(body.status()));
    auto spec = SpecFromRequest(*body, config_);
    if (!spec.ok()) return respond(ErrorResponse(spec.status()));
    {
      std::lock_guard lock(mutex_);
      labels_[spec->id] = body->value("labels", json::object());
    }
    const std::string id = spec->id;
    supervisor_.Create(std::move(spec).value(), [this, id, respond](StatusOr<SandboxStatus> status) {
      if (!status.ok()) {
        // It stays supervised (and visible) so its failure can be inspected and retried.
        return respond(ErrorResponse(500, "sandbox_failed", status.status().message() + "; id " + id));
      }
      AnswerOnceStored("create of sandbox " + id, JsonResponse(201, ToJson(*status)), respond);
    });
  }

  void Get(const std::string& id, Respond respond) {
    supervisor_.Get(id, [this, respond](StatusOr<SandboxStatus> status) {
      if (!status.ok()) return respond(ErrorResponse(status.status()));
      respond(JsonResponse(200, ToJson(*status)));
    });
  }

  void List(Respond respond) {
    supervisor_.List([this, respond](std::vector<SandboxStatus> all) {
      json items = json::array();
      for (const auto& s : all) items.push_back(ToJson(s));
      respond(JsonResponse(200, {{"sandboxes", std::move(items)}}));
    });
  }

  void Delete(const std::string& id, Respond respond) {
    supervisor_.Delete(id, [this, id, respond](Status status) {
      if (!status.ok()) return respond(ErrorResponse(status));
      {
        std::lock_guard lock(mutex_);
        labels_.erase(id);
      }
      AnswerOnceStored("delete of sandbox " + id, JsonResponse(200, {{"id", id}, {"state", "stopped"}}), respond);
    });
  }

  void Restart(const std::string& id, Respond respond) {
    supervisor_.Restart(id, [this, respond](StatusOr<SandboxStatus> status) {
      if (!status.ok()) return respond(ErrorResponse(status.status()));
      respond(JsonResponse(200, ToJson(*status)));
    });
  }

  void Exec(const std::string& id, const HttpRequest& request, Respond respond) {
    auto body = ParseJsonObject(request);
    if (!body.ok()) return respond(ErrorResponse(body.status()));
    auto exec = ExecFromRequest(*body);
    if (!exec.ok()) return respond(ErrorResponse(exec.status()));
    supervisor_.Exec(id, std::move(exec).value(), [respond](StatusOr<json> result) {
      if (!result.ok()) return respond(ErrorResponse(result.status()));
      respond(JsonResponse(200, *result));
    });
  }

  void Files(const std::string& id, const HttpRequest& request, Respond respond) {
    const std::string path = request.query_param("path");
    const bool write = request.method == "PUT";
    // The body is moved into the callback: the request is only valid during this call.
    supervisor_.Get(id, [this, path, write, data = write ? request.body : std::string(), respond](
                            StatusOr<SandboxStatus> status) {
      if (!status.ok()) return respond(ErrorResponse(status.status()));
      if (status->pid == 0) return respond(ErrorResponse(Unavailable("sandbox is not running")));
      if (write) {
        Status s = WriteSandboxFile(status->pid, path, data, status->spec.uid, status->spec.gid);
        if (!s.ok()) return respond(ErrorResponse(s));
        return respond(JsonResponse(200, {{"path", path}, {"bytes", data.size()}}));
      }
      // A file is read whole into the response, so its cap is the body cap (http.max_body_bytes).
      auto content = ReadSandboxFile(status->pid, path, config_.http.max_body_bytes);
      if (!content.ok() && content.status().code() == Code::kResourceExhausted) {
        return respond(ErrorResponse(413, "file_too_large", content.status().message() + " (http.max_body_bytes)"));
      }
      if (!content.ok()) return respond(ErrorResponse(content.status()));
      HttpResponse response;
      response.content_type = "application/octet-stream";
      response.body = std::move(content).value();
      respond(std::move(response));
    });
  }

 private:
  // The supervisor queued the sandbox's transitions before it answered, so once the writes
  // queued now are committed, so are they.
  void AnswerOnceStored(std::string what, HttpResponse answer, const Respond& respond) {
    store_.AfterQueuedWrites(what, [what, answer = std::move(answer), respond](Status committed) {
      if (committed.ok()) return respond(answer);
      respond(ErrorResponse(Internal(what + " was done, but recording it failed: " + committed.message())));
    });
  }

  Supervisor& supervisor_;
  Store& store_;
  const Config& config_;
  std::mutex mutex_;
  std::map<std::string, json> labels_;
};

}  // namespace

void AddSandboxRoutes(Router& router, Supervisor& supervisor, Store& store, const Config& config) {
  auto api = std::make_shared<SandboxApi>(supervisor, store, config);
  router.Add("POST", "/api/v1/sandboxes",
             [api](const HttpRequest& request, const PathParams&, Respond respond) { api->Create(request, respond); });
  router.Add("GET", "/api/v1/sandboxes",
             [api](const HttpRequest&, const PathParams&, Respond respond) { api->List(respond); });
  router.Add("GET", "/api/v1/sandboxes/{id}", [api](const HttpRequest&, const PathParams& params, Respond respond) {
    api->Get(params.at("id"), respond);
  });
  router.Add("DELETE", "/api/v1/sandboxes/{id}", [api](const HttpRequest&, const PathParams& params, Respond respond) {
    api->Delete(params.at("id"), respond);
  });
  router.Add("POST", "/api/v1/sandboxes/{id}/restart",
             [api](const HttpRequest&, const PathParams& params, Respond respond) {
               api->Restart(params.at("id"), respond);
             });
  router.Add("POST", "/api/v1/sandboxes/{id}/exec",
             [api](const HttpRequest& request, const PathParams& params, Respond respond) {
               api->Exec(params.at("id"), request, respond);
             });
  for (const char* method : {"GET", "PUT"}) {
    router.Add(method, "/api/v1/sandboxes/{id}/files",
               [api](const HttpRequest& request, const PathParams& params, Respond respond) {
                 api->Files(params.at("id"), request, respond);
               });
  }
}

}  // namespace rock
