#include "daemon/gem_routes.h"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "balancer/balancer.h"
#include "common/random_id.h"
#include "daemon/client_quota.h"
#include "daemon/episode_routes.h"
#include "daemon/raw_json.h"
#include "daemon/request_fields.h"
#include "daemon/router.h"
#include "envs/env_kinds.h"

namespace rock {
namespace {

using nlohmann::json;

// Handles a client forgot to close cost a few strings each; past this many, make refuses.
constexpr std::size_t kMaxHandles = 100'000;

class GemApi {
 public:
  GemApi(balancer::Balancer& balancer, ClientQuota& quota) : balancer_(balancer), quota_(quota) {}

  void Make(const json& body, const std::string&, const Respond& respond) {
    const auto env_id = body.find("env_id");
    if (env_id == body.end() || !env_id->is_string()) {
      return respond(ErrorResponse(InvalidArgument("'env_id' is required: an env kind")));
    }
    json request = {{"env", *env_id}};
    for (const char* key : {"task", "max_steps"}) {
      if (body.contains(key)) request[key] = body[key];
    }
    // Checked now, so that a bad env_id fails make, not the first reset.
    auto spec = EpisodeSpecFromRequest(request, {});
    if (!spec.ok()) return respond(ErrorResponse(spec.status()));
    const std::string handle = NewRandomId("gem");
    {
      std::lock_guard lock(mutex_);
      if (handles_.size() >= kMaxHandles) {
        return respond(ErrorResponse(Status(Code::kResourceExhausted, "too many open GEM envs: close some")));
      }
      handles_[handle] = Handle{std::move(request), {}};
    }
    respond(JsonResponse(200, {{"sandbox_id", handle}}));
  }

  // The handle's previous episode ends first, so a client at its cap of open episodes can
  // still reset: the new episode takes the unit the old one gave back.
  void Reset(const json& body, const std::string& client, const Respond& respond) {
    StatusOr<Handle> handle = Find(body);
    if (!handle.ok()) return respond(ErrorResponse(handle.status()));
    json request = handle->request;
    if (const auto seed = body.find("seed"); seed != body.end() && !seed->is_null()) request["seed"] = *seed;
    auto spec = EpisodeSpecFromRequest(request, {});
    if (!spec.ok()) return respond(ErrorResponse(spec.status()));
    spec->owner = client;
    const std::string id = body["sandbox_id"].get<std::string>();
    if (handle->episode.empty()) return Start(id, std::move(spec).value(), respond);
    balancer_.Cancel(handle->episode, "deleted", [this, id, spec = std::move(spec).value(), respond](Status) mutable {
      Start(id, std::move(spec), respond);  // whether it was cancelled now or had ended already
    });
  }

  void Step(const json& body, const std::string&, const Respond& respond) {
    StatusOr<Handle> handle = Find(body);
    if (!handle.ok()) return respond(ErrorResponse(handle.status()));
    const auto action = body.find("action");
    if (action == body.end() || !action->is_string()) {
      return respond(ErrorResponse(InvalidArgument("'action' is required and must be a string")));
    }
    if (handle->episode.empty()) return respond(ErrorResponse(FailedPrecondition("reset the env before stepping it")));
    balancer_.Step(handle->episode, action->get<std::string>(), [respond](StatusOr<balancer::EnvReply> reply) {
      if (!reply.ok()) return respond(ErrorResponse(reply.status()));
      respond(JsonTextResponse(200, ReplyText(*reply)));
    });
  }

  void Close(const json& body, const std::string&, const Respond& respond) {
    StatusOr<Handle> handle = Find(body);
    if (!handle.ok()) return respond(ErrorResponse(handle.status()));
    const std::string id = body["sandbox_id"].get<std::string>();
    {
      std::lock_guard lock(mutex_);
      handles_.erase(id);
    }
    if (!handle->episode.empty()) balancer_.Cancel(handle->episode, "deleted", [](Status) {});
    respond(JsonResponse(200, {{"sandbox_id", id}}));
  }

  void List(const json& body, const std::string&, const Respond& respond) {
    StatusOr<Handle> handle = Find(body);
    if (!handle.ok()) return respond(ErrorResponse(handle.status()));
    json kinds = json::array();
    for (std::string_view kind : envs::kEnvKinds) {
      if (envs::HasEpisodes(kind)) kinds.push_back(kind);
    }
    respond(JsonResponse(200, {{"env_id", std::move(kinds)}}));
  }

 private:
  struct Handle {
    json request;         // env, task, max_steps from make
    std::string episode;  // the current episode; empty before the first reset
  };

  void Start(const std::string& id, balancer::EpisodeSpec spec, const Respond& respond) {
    const std::string owner = spec.owner;
    if (Status s = quota_.Acquire(owner); !s.ok()) return respond(ErrorResponse(s));
    balancer_.StartEpisode(std::move(spec), [this, id, owner, respond](StatusOr<balancer::Started> started) {
      if (!started.ok()) {
        quota_.Release(owner);
        return respond(ErrorResponse(started.status()));
      }
      {
        std::lock_guard lock(mutex_);
        const auto it = handles_.find(id);
        if (it == handles_.end()) {
          // Closed while it reset: the new episode has no owner.
          balancer_.Cancel(started->id, "deleted", [](Status) {});
          return respond(ErrorResponse(NotFound("GEM env " + id + " was closed")));
        }
        it->second.episode = started->id;
      }
      respond(JsonTextResponse(200, DumpWithRawMember({{"observation", started->reply.observation}}, "info",
                                                       started->reply.info_json)));
    });
  }

  StatusOr<Handle> Find(const json& body) {
    const auto id = body.find("sandbox_id");
    if (id == body.end() || !id->is_string() || id->get<std::string>().empty()) {
      return InvalidArgument("'sandbox_id' is required and must be a non-empty string");
    }
    std::lock_guard lock(mutex_);
    const auto it = handles_.find(id->get<std::string>());
    if (it == handles_.end()) return NotFound("no GEM env " + id->get<std::string>());
    return it->second;
  }

  balancer::Balancer& balancer_;
  ClientQuota& quota_;
  std::mutex mutex_;
  std::map<std::string, Handle> handles_;
};

}  // namespace

void AddGemRoutes(Router& router, balancer::Balancer& balancer, ClientQuota& quota) {
  auto api = std::make_shared<GemApi>(balancer, quota);
  using Method = void (GemApi::*)(const json&, const std::string& client, const Respond&);
  for (auto [path, method] : {std::pair<const char*, Method>{"/apis/v1/envs/gem/make", &GemApi::Make},
                              {"/apis/v1/envs/gem/reset", &GemApi::Reset},
                              {"/apis/v1/envs/gem/step", &GemApi::Step},
                              {"/apis/v1/envs/gem/close", &GemApi::Close},
                              {"/apis/v1/envs/gem/list", &GemApi::List}}) {
    // An init-capture: clang before 16 (the fuzz build) cannot capture a structured binding.
    router.Add("POST", path, [api, method = method](const HttpRequest& request, const PathParams&, Respond respond) {
      auto body = ParseJsonObject(request);
      if (!body.ok()) return respond(ErrorResponse(body.status()));
      ((*api).*method)(*body, request.remote, respond);
    });
  }
}

}  // namespace rock
