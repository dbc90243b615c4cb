#include "daemon/trajectory_routes.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/request_fields.h"
#include "daemon/router.h"
#include "daemon/store.h"

namespace rock {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxLimit = 10'000;

void ListTrajectories(Store& store, const HttpRequest& request, const Respond& respond) {
  const StatusOr<uint64_t> after = QueryUnsigned(request, "after_seq", 0, (uint64_t{1} << 63) - 1, 0);
  const StatusOr<uint64_t> limit = QueryUnsigned(request, "limit", 1, kMaxLimit, 1000);
  const std::string format = request.query_param("format");
  const std::string trainer = request.query_param("trainer");
  for (const Status& s : {after.status(), limit.status()}) {
    if (!s.ok()) return respond(ErrorResponse(s));
  }
  if (!format.empty() && format != "json" && format != "jsonl") {
    return respond(ErrorResponse(InvalidArgument("'format' must be json or jsonl, got '" + format + "'")));
  }
  json items = json::array();
  std::string lines;
  uint64_t last = *after;
  Status read = store.Read("list trajectories", [&](SQLite::Database& db) {
    SQLite::Statement select(db,
                             "SELECT seq, payload, acked_at FROM trajectories WHERE seq > ? AND (? = '' OR trainer = ?) "
                             "ORDER BY seq LIMIT ?");
    select.bind(1, static_cast<int64_t>(*after));
    select.bind(2, trainer);
    select.bind(3, trainer);
    select.bind(4, static_cast<int64_t>(*limit));
    while (select.executeStep()) {
      json trajectory = json::parse(select.getColumn(1).getString());
      last = static_cast<uint64_t>(select.getColumn(0).getInt64());
      trajectory["seq"] = last;
      trajectory["acked"] = !select.getColumn(2).isNull();
      if (format == "jsonl") {
        lines += trajectory.dump();
        lines += '\n';
      } else {
        items.push_back(std::move(trajectory));
      }
    }
  });
  if (!read.ok()) return respond(ErrorResponse(read));
  if (format == "jsonl") {
    HttpResponse response;
    response.content_type = "application/x-ndjson";
    response.body = std::move(lines);
    return respond(std::move(response));
  }
  respond(JsonResponse(200, {{"trajectories", std::move(items)}, {"next_after_seq", last}}));
}

}  // namespace

void AddTrajectoryRoutes(Router& router, Store& store) {
  router.Add("GET", "/api/v1/trajectories", [&store](const HttpRequest& request, const PathParams&, Respond respond) {
    ListTrajectories(store, request, respond);
  });
}

}  // namespace rock
