#include "daemon/episode_routes.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "balancer/balancer.h"
#include "common/random_id.h"
#include "daemon/client_quota.h"
#include "daemon/raw_json.h"
#include "daemon/request_fields.h"
#include "daemon/router.h"
#include "daemon/store.h"
#include "envs/env_kinds.h"

namespace rock {
namespace {

using balancer::EpisodeSummary;
using balancer::EpisodeView;
using nlohmann::json;

bool KnownState(std::string_view name) {
  for (auto state : {balancer::EpisodeState::kQueued, balancer::EpisodeState::kRunning, balancer::EpisodeState::kFinished,
                     balancer::EpisodeState::kCancelled, balancer::EpisodeState::kFailed}) {
    if (balancer::EpisodeStateName(state) == name) return true;
  }
  return false;
}

json SummaryToJson(const EpisodeSummary& e) {
  return {{"id", e.id},
          {"env", e.spec.env},
          {"task", e.spec.task},
          {"seed", e.spec.seed},
          {"max_steps", e.spec.max_steps == 0 ? json(nullptr) : json(e.spec.max_steps)},
          {"group", e.group.empty() ? json(nullptr) : json(e.group)},
          {"state", balancer::EpisodeStateName(e.state)},
          {"end_reason", e.end_reason},
          {"sandbox", e.sandbox_id.empty() ? json(nullptr) : json(e.sandbox_id)},
          {"steps", e.steps},
          {"return", e.total_reward},
          {"failovers", e.failovers},
          {"created_ms", e.created_ms},
          {"started_ms", e.started_ms},
          {"ended_ms", e.ended_ms == 0 ? json(nullptr) : json(e.ended_ms)}};
}

json StepToJson(const balancer::StepRecord& s) {
  return {{"step", s.step},
          {"action", s.action},
          {"observation", s.observation},
          {"reward", s.reward},
          {"terminated", s.terminated},
          {"truncated", s.truncated},
          {"ts_ms", s.ts_ms},
          {"duration_us", s.duration_us}};
}

json ViewToJson(const EpisodeView& view) {
  json out = SummaryToJson(view.summary);
  out["observation"] = view.first_observation;
  json steps = json::array();
  for (const auto& step : view.steps) steps.push_back(StepToJson(step));
  out["trajectory"] = std::move(steps);
  return out;
}

// A started episode: `fields`, its id, first observation and info.
std::string StartedText(const balancer::Started& started, json fields = json::object()) {
  fields["id"] = started.id;
  fields["observation"] = started.reply.observation;
  return DumpWithRawMember(fields, "info", started.reply.info_json);
}

// An episode that has left memory, as SQLite recorded it.
StatusOr<json> ReadStoredEpisode(Store& store, const std::string& id) {
  json out;
  Status read = store.Read("read episode " + id, [&](SQLite::Database& db) {
    SQLite::Statement episode(db,
                              "SELECT env, task, seed, status, end_reason, group_id, max_steps, steps, return, "
                              "failovers, created_at, finished_at FROM episodes WHERE id = ?");
    episode.bind(1, id);
    if (!episode.executeStep()) return;
    out = {{"id", id},
           {"env", episode.getColumn(0).getString()},
           {"task", json::parse(episode.getColumn(1).getString(), nullptr, false)},
           {"seed", episode.getColumn(2).getInt64()},
           {"state", episode.getColumn(3).getString()},
           {"end_reason", episode.getColumn(4).getString()},
           {"group", episode.getColumn(5).isNull() ? json(nullptr) : json(episode.getColumn(5).getString())},
           {"max_steps", episode.getColumn(6).isNull() ? json(nullptr) : json(episode.getColumn(6).getInt64())},
           {"sandbox", nullptr},
           {"steps", episode.getColumn(7).getInt64()},
           {"return", episode.getColumn(8).getDouble()},
           {"failovers", episode.getColumn(9).getInt64()},
           {"created_ms", episode.getColumn(10).getInt64()},
           {"ended_ms", episode.getColumn(11).isNull() ? json(nullptr) : json(episode.getColumn(11).getInt64())}};
    SQLite::Statement steps(db,
                            "SELECT step, action, observation, reward, terminated, truncated, duration_us FROM steps "
                            "WHERE episode_id = ? ORDER BY step");
    steps.bind(1, id);
    json trajectory = json::array();
    while (steps.executeStep()) {
      if (steps.getColumn(0).getInt64() == 0) {
        out["observation"] = steps.getColumn(2).getString();
        continue;
      }
      trajectory.push_back({{"step", steps.getColumn(0).getInt64()},
                            {"action", steps.getColumn(1).getString()},
                            {"observation", steps.getColumn(2).getString()},
                            {"reward", steps.getColumn(3).getDouble()},
                            {"terminated", steps.getColumn(4).getInt() != 0},
                            {"truncated", steps.getColumn(5).getInt() != 0},
                            {"duration_us", steps.getColumn(6).getInt64()}});
    }
    out["trajectory"] = std::move(trajectory);
  });
  if (!read.ok()) return read;
  if (out.is_null()) return NotFound("no episode " + id);
  return out;
}

class EpisodeApi {
 public:
  EpisodeApi(balancer::Balancer& balancer, Store& store, boost::asio::io_context& io, ClientQuota& quota)
      : balancer_(balancer), store_(store), io_(io), quota_(quota) {}

  void Start(const HttpRequest& request, Respond respond) {
    auto body = ParseJsonObject(request);
    if (!body.ok()) return respond(ErrorResponse(body.status()));
    auto spec = EpisodeSpecFromRequest(*body, {});
    if (!spec.ok()) return respond(ErrorResponse(spec.status()));
    spec->owner = request.remote;
    if (Status s = quota_.Acquire(spec->owner); !s.ok()) return respond(ErrorResponse(s));
    const uint64_t seed = spec->seed;
    balancer_.StartEpisode(std::move(spec).value(), [this, owner = request.remote, respond,
                                                     seed](StatusOr<balancer::Started> started) {
      if (!started.ok()) {
        quota_.Release(owner);  // it never started; one that did gives its unit back when it ends
        return respond(ErrorResponse(started.status()));
      }
      RespondOnceRecorded("episode " + started->id, StartedText(*started, {{"seed", seed}}), respond);
    });
  }

  void StartGroup(const HttpRequest& request, Respond respond) {
    auto body = ParseJsonObject(request);
    if (!body.ok()) return respond(ErrorResponse(body.status()));
    auto spec = EpisodeSpecFromRequest(*body, {"n", "redundancy"});
    if (!spec.ok()) return respond(ErrorResponse(spec.status()));
    uint64_t n = 0, redundancy = 0;
    if (!body->contains("n")) return respond(ErrorResponse(InvalidArgument("'n' is required: the episodes the group needs")));
    for (const Status& s : {ReadUnsigned(*body, "n", 1, 4096, "", &n), ReadUnsigned(*body, "redundancy", 0, 4096, "", &redundancy)}) {
      if (!s.ok()) return respond(ErrorResponse(s));
    }
    spec->owner = request.remote;
    const auto members = static_cast<uint32_t>(n + redundancy);
    if (Status s = quota_.Acquire(spec->owner, members); !s.ok()) return respond(ErrorResponse(s));
    balancer::GroupSpec group{std::move(spec).value(), static_cast<uint32_t>(n), static_cast<uint32_t>(redundancy)};
    const uint64_t seed = group.episode.seed;
    balancer_.StartGroup(std::move(group), [this, owner = request.remote, members, respond,
                                            seed](StatusOr<balancer::GroupStarted> started) {
      if (!started.ok()) {
        quota_.Release(owner, members);
        return respond(ErrorResponse(started.status()));
      }
      std::string episodes = "[";
      for (const auto& episode : started->episodes) {
        if (episodes.size() > 1) episodes += ',';
        if (episode.ok()) {
          episodes += StartedText(*episode);
        } else {
          quota_.Release(owner);
          const json error = {{"error", {{"code", code_name(episode.status().code())}, {"message", episode.status().message()}}}};
          episodes += error.dump(-1, ' ', false, json::error_handler_t::replace);
        }
      }
      episodes += ']';
      RespondOnceRecorded("group " + started->group,
                          DumpWithRawMember({{"group", started->group}, {"seed", seed}}, "episodes", episodes), respond);
    });
  }

  void Step(const std::string& id, const HttpRequest& request, Respond respond) {
    auto body = ParseJsonObject(request);
    if (!body.ok()) return respond(ErrorResponse(body.status()));
    if (Status s = CheckKeys(*body, {"action"}, ""); !s.ok()) return respond(ErrorResponse(s));
    const auto action = body->find("action");
    if (action == body->end() || !action->is_string()) {
      return respond(ErrorResponse(InvalidArgument("'action' is required and must be a string")));
    }
    balancer_.Step(id, action->get<std::string>(), [respond](StatusOr<balancer::EnvReply> reply) {
      if (!reply.ok()) return respond(ErrorResponse(reply.status()));
      respond(JsonTextResponse(200, ReplyText(*reply)));
    });
  }

  void Get(const std::string& id, Respond respond) {
    balancer_.Get(id, [this, id, respond](StatusOr<EpisodeView> view) {
      if (view.ok()) return respond(JsonResponse(200, ViewToJson(*view)));
      // Ended long ago: SQLite has it. Read off the balancer's strand.
      boost::asio::post(io_, [this, id, respond] {
        StatusOr<json> stored = ReadStoredEpisode(store_, id);
        respond(stored.ok() ? JsonResponse(200, *stored) : ErrorResponse(stored.status()));
      });
    });
  }

  void List(const HttpRequest& request, Respond respond) {
    const std::string state = request.query_param("state");
    if (!state.empty() && !KnownState(state)) {
      return respond(ErrorResponse(
          InvalidArgument("'state' must be one of queued, running, finished, cancelled, failed; got '" + state + "'")));
    }
    balancer_.List([respond, state](std::vector<EpisodeSummary> all) {
      json items = json::array();
      for (const auto& e : all) {
        if (state.empty() || balancer::EpisodeStateName(e.state) == state) items.push_back(SummaryToJson(e));
      }
      respond(JsonResponse(200, {{"episodes", std::move(items)}}));
    });
  }

  void Delete(const std::string& id, Respond respond) {
    balancer_.Cancel(id, "deleted", [id, respond](Status cancelled) {
      if (!cancelled.ok()) return respond(ErrorResponse(cancelled));
      respond(JsonResponse(200, {{"id", id}, {"state", "cancelled"}}));
    });
  }

 private:
  // The 201 of a start waits for its start records' commit, so a rockd killed right after still
  // knows (and fails on restart) what a client was told of, instead of "no episode". If the
  // commit fails the episodes run, but a restart would not know them: the client hears so.
  void RespondOnceRecorded(const std::string& started, std::string created_text, Respond respond) {
    store_.AfterQueuedWrites("record the start of " + started,
                             [started, text = std::move(created_text), respond](Status committed) {
                               if (committed.ok()) return respond(JsonTextResponse(201, text));
                               respond(ErrorResponse(Internal(started + " started, but recording its start failed: " +
                                                              committed.message())));
                             });
  }

  balancer::Balancer& balancer_;
  Store& store_;
  boost::asio::io_context& io_;
  ClientQuota& quota_;
};

}  // namespace

StatusOr<balancer::EpisodeSpec> EpisodeSpecFromRequest(const json& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body.items()) {
    const bool known = key == "env" || key == "task" || key == "seed" || key == "max_steps" ||
                       std::find(allowed.begin(), allowed.end(), key) != allowed.end();
    if (!known) return InvalidArgument("unknown field '" + key + "'");
  }
  balancer::EpisodeSpec spec;
  const auto env = body.find("env");
  if (env == body.end() || !env->is_string() || !envs::HasEpisodes(env->get<std::string>())) {
    std::string kinds;
    for (std::string_view kind : envs::kEnvKinds) {
      if (envs::HasEpisodes(kind)) kinds += (kinds.empty() ? "" : ", ") + std::string(kind);
    }
    return InvalidArgument("'env' is required: one of " + kinds);
  }
  spec.env = env->get<std::string>();
  if (const auto task = body.find("task"); task != body.end()) {
    if (!task->is_object()) return InvalidArgument("'task' must be an object");
    spec.task = *task;
  }
  uint64_t seed = RandomU64() >> 1, max_steps = 0;  // >> 1: fits SQLite's signed integers
  if (Status s = ReadUnsigned(body, "seed", 0, (1ull << 63) - 1, "", &seed); !s.ok()) return s;
  if (Status s = ReadUnsigned(body, "max_steps", 1, 1'000'000, "", &max_steps); !s.ok()) return s;
  spec.seed = seed;
  spec.max_steps = static_cast<uint32_t>(max_steps);
  // ALFWorld counts steps itself (its truncation text and info depend on it): tell it.
  // Envs that end episodes themselves at the limit (ALFWorld's truncation, SWE-bench's grading).
  if ((spec.env == "alfworld" || spec.env == "swebench") && max_steps > 0 && !spec.task.contains("max_steps")) {
    spec.task["max_steps"] = max_steps;
  }
  return spec;
}

std::string ReplyText(const balancer::EnvReply& reply) {
  const json fields = {{"observation", reply.observation},
                       {"reward", reply.reward},
                       {"terminated", reply.terminated},
                       {"truncated", reply.truncated}};
  return DumpWithRawMember(fields, "info", reply.info_json);
}

void AddEpisodeRoutes(Router& router, balancer::Balancer& balancer, Store& store, boost::asio::io_context& io,
                      ClientQuota& quota) {
  auto api = std::make_shared<EpisodeApi>(balancer, store, io, quota);
  router.Add("POST", "/api/v1/episodes",
             [api](const HttpRequest& request, const PathParams&, Respond respond) { api->Start(request, respond); });
  router.Add("GET", "/api/v1/episodes",
             [api](const HttpRequest& request, const PathParams&, Respond respond) { api->List(request, respond); });
  router.Add("GET", "/api/v1/episodes/{id}", [api](const HttpRequest&, const PathParams& params, Respond respond) {
    api->Get(params.at("id"), respond);
  });
  router.Add("DELETE", "/api/v1/episodes/{id}", [api](const HttpRequest&, const PathParams& params, Respond respond) {
    api->Delete(params.at("id"), respond);
  });
  router.Add("POST", "/api/v1/episodes/{id}/step", [api](const HttpRequest& request, const PathParams& params, Respond respond) {
    api->Step(params.at("id"), request, respond);
  });
  router.Add("POST", "/api/v1/groups",
             [api](const HttpRequest& request, const PathParams&, Respond respond) { api->StartGroup(request, respond); });
}

}  // namespace rock
