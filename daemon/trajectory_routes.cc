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

void ListTrajectories(Store& store, const HttpRequest& request, const Respond& respond) {
  const StatusOr<PageQuery> page = QueryPage(request, "after_seq");
  if (!page.ok()) return respond(ErrorResponse(page.status()));
  const std::string format = request.query_param("format");
  const std::string trainer = request.query_param("trainer");
  if (!format.empty() && format != "json" && format != "jsonl") {
    return respond(ErrorResponse(InvalidArgument("'format' must be json or jsonl, got '" + format + "'")));
  }
  json items = json::array();
  std::string lines;
  uint64_t last = page->after;
  Status read = store.Read("list trajectories", [&](SQLite::Database& db) {
    SQLite::Statement select(db,
                             "SELECT seq, payload, acked_at FROM trajectories WHERE seq > ? AND (? = '' OR trainer = ?) "
                             "ORDER BY seq LIMIT ?");
    select.bind(1, static_cast<int64_t>(page->after));
    select.bind(2, trainer);
    select.bind(3, trainer);
    select.bind(4, static_cast<int64_t>(page->limit));
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
