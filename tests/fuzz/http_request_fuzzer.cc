// libFuzzer target: the HTTP API's requests (DESIGN.md's endpoints) into the real router and
// routes (system, log level, sandboxes, files, exec, pools, episodes, groups, GEM, trajectories,
// trainer reports) over a real store and a balancer without sandboxes
// (tests/fuzz/daemon_world.h): bodies, path parameters and queries reach every handler's checks,
// and what passes them fails to place or to launch.
//
// Input: up to kMaxRequests requests, separated by "\n--\n". A request's first byte picks the
// endpoint (one past the table: the next line is a raw "METHOD target"); the rest of its first
// line is the path parameter and, after '?', the query; what follows the newline is the body.
// "$ID" in the parameter stands for the id of the last thing created (sandbox, episode, GEM
// handle), so a later request can name it.
//
// Beyond "no crash", every request is answered exactly once, with a status from 200 to 599, and
// every error is the JSON envelope {"error":{"code","message"}}. The one 500 is sandbox_failed,
// a sandbox this world cannot launch: a bad request is the client's fault, never rockd's.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/client_quota.h"
#include "daemon/config.h"
#include "daemon/episode_routes.h"
#include "daemon/gem_routes.h"
#include "daemon/http_message.h"
#include "daemon/pool_routes.h"
#include "daemon/router.h"
#include "daemon/sandbox_routes.h"
#include "daemon/system_routes.h"
#include "daemon/trainer_report_routes.h"
#include "daemon/trajectory_routes.h"
#include "tests/fuzz/daemon_world.h"
#include "tests/fuzz/require.h"

namespace rock::fuzz {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxRequests = 8;
constexpr std::string_view kSeparator = "\n--\n";

struct Endpoint {
  const char* method;
  const char* path;  // "{}" takes the request's path parameter
};

constexpr Endpoint kEndpoints[] = {
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/api/v1/info"},
    {"GET", "/api/v1/routes"},
    {"GET", "/api/v1/log-level"},
    {"PUT", "/api/v1/log-level"},
    {"POST", "/api/v1/sandboxes"},
    {"GET", "/api/v1/sandboxes"},
    {"GET", "/api/v1/sandboxes/{}"},
    {"DELETE", "/api/v1/sandboxes/{}"},
    {"POST", "/api/v1/sandboxes/{}/restart"},
    {"POST", "/api/v1/sandboxes/{}/exec"},
    {"GET", "/api/v1/sandboxes/{}/files"},
    {"PUT", "/api/v1/sandboxes/{}/files"},
    {"GET", "/api/v1/pools"},
    {"PUT", "/api/v1/pools/{}"},
    {"POST", "/api/v1/episodes"},
    {"GET", "/api/v1/episodes"},
    {"GET", "/api/v1/episodes/{}"},
    {"DELETE", "/api/v1/episodes/{}"},
    {"POST", "/api/v1/episodes/{}/step"},
    {"POST", "/api/v1/groups"},
    {"POST", "/apis/v1/envs/gem/make"},
    {"POST", "/apis/v1/envs/gem/reset"},
    {"POST", "/apis/v1/envs/gem/step"},
    {"POST", "/apis/v1/envs/gem/close"},
    {"POST", "/apis/v1/envs/gem/list"},
    {"GET", "/api/v1/trajectories"},
    {"GET", "/api/v1/trainer-reports"},
};
constexpr std::size_t kEndpointCount = std::size(kEndpoints);

// The routes of rockd (daemon.cc's Run) over `world`, without the dashboard's static files.
class Api {
 public:
  explicit Api(DaemonWorld& world) : world_(world), config_(Defaults()) {
    AddSystemRoutes(router_, {config_, world.metrics(), world.store(), ready_,
                              [&world] { return world.balancer().AtMinimum(); }, port_,
                              std::chrono::system_clock::now()});
    AddSandboxRoutes(router_, world.supervisor(), world.store(), config_);
    AddPoolRoutes(router_, world.balancer(), config_);
    AddEpisodeRoutes(router_, world.balancer(), world.store(), world.io(), quota_);
    AddGemRoutes(router_, world.balancer(), quota_);
    AddTrajectoryRoutes(router_, world.store());
    AddTrainerReportRoutes(router_, world.store());
  }

  // Dispatches one request and checks its answer; the id it created, if any, becomes last_id.
  void Call(const HttpRequest& request) {
    // Respond may run on another thread (the store's writer answers sandbox creates and
    // deletes): the response is written before the count that publishes it.
    std::atomic<int> answers = 0;
    HttpResponse response;
    std::string_view route;
    router_.Dispatch(request, [&](HttpResponse r) {
      response = std::move(r);
      ++answers;
    }, &route);
    world_.RunUntil([&answers] { return answers > 0; });
    world_.Drain();
    Require(answers == 1 && !route.empty());
    Check(response);
  }

  std::string last_id;

 private:
  static Config Defaults() {
    auto config = LoadConfig("", "defaults");
    if (!config.ok()) __builtin_trap();
    return std::move(config).value();
  }

  void Check(const HttpResponse& response) {
    Require(response.status >= 200 && response.status <= 599);
    const bool is_json = response.content_type == "application/json";
    Require(is_json || response.status < 400);
    if (!is_json) return;
    const json body = json::parse(response.body, nullptr, false);
    Require(!body.is_discarded());
    if (response.status >= 400) {
      Require(body.is_object() && body.size() == 1 && body.contains("error"));
      const json& error = body["error"];
      Require(error.is_object() && error.contains("code") && error["code"].is_string() && !error["code"].empty());
      Require(error.contains("message") && error["message"].is_string());
      Require(response.status != 500 || error["code"] == "sandbox_failed");
      return;
    }
    for (const char* key : {"id", "sandbox_id"}) {
      if (body.is_object() && body.contains(key) && body[key].is_string()) last_id = body[key].get<std::string>();
    }
  }

  DaemonWorld& world_;
  const Config config_;
  Router router_;
  std::atomic<bool> ready_{true};
  std::atomic<uint16_t> port_{8080};
  ClientQuota quota_{"open episodes", 4};
};

// The request that `text` describes, or false when its target cannot be percent-decoded (the
// HTTP session answers those itself, before any route).
bool MakeRequest(std::string_view text, const std::string& last_id, HttpRequest* request) {
  const uint8_t pick = static_cast<uint8_t>(text[0]) % (kEndpointCount + 1);
  text.remove_prefix(1);
  const auto newline = text.find('\n');
  std::string line(text.substr(0, newline));
  request->body = newline == std::string_view::npos ? "" : std::string(text.substr(newline + 1));
  if (pick == kEndpointCount) {
    const auto space = line.find(' ');
    if (space == std::string::npos) return false;
    request->method = line.substr(0, space);
    request->target = line.substr(space + 1);
  } else {
    const Endpoint& endpoint = kEndpoints[pick];
    request->method = endpoint.method;
    for (auto at = line.find("$ID"); at != std::string::npos; at = line.find("$ID", at + last_id.size())) {
      line.replace(at, 3, last_id);
    }
    const auto question = line.find('?');
    std::string target = endpoint.path;
    if (const auto slot = target.find("{}"); slot != std::string::npos) target.replace(slot, 2, line.substr(0, question));
    request->target = question == std::string::npos ? target : target + line.substr(question);
  }
  const auto question = request->target.find('?');
  if (question != std::string::npos) request->query = request->target.substr(question + 1);
  if (!PercentDecode(std::string_view(request->target).substr(0, question), false, &request->path)) return false;
  request->headers = {{"content-type", "application/json"}};
  request->remote = "127.0.0.1";
  return true;
}

}  // namespace
}  // namespace rock::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rock;
  using namespace rock::fuzz;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  DaemonWorld world;
  {
    Api api(world);
    for (std::size_t i = 0; i < kMaxRequests && !rest.empty(); ++i) {
      const auto end = rest.find(kSeparator);
      const std::string_view text = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + kSeparator.size());
      HttpRequest request;
      if (!text.empty() && MakeRequest(text, api.last_id, &request)) api.Call(request);
    }
  }
  return 0;
}
