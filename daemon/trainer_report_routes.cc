#include "daemon/trainer_report_routes.h"

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

// The newest `limit` reports with an id above `after_id`, oldest first: a page that opens gets
// the latest curve at once, and one that comes back asks only for what it has not seen.
void ListReports(Store& store, const HttpRequest& request, const Respond& respond) {
  const StatusOr<PageQuery> page = QueryPage(request, "after_id");
  if (!page.ok()) return respond(ErrorResponse(page.status()));
  const std::string trainer = request.query_param("trainer");
  json items = json::array();
  uint64_t last = page->after;
  Status read = store.Read("list trainer reports", [&](SQLite::Database& db) {
    SQLite::Statement select(db,
                             "SELECT id, trainer, ts, policy_version, metrics_json FROM ("
                             "SELECT * FROM trainer_reports WHERE id > ? AND (? = '' OR trainer = ?) "
                             "ORDER BY id DESC LIMIT ?) ORDER BY id");
    select.bind(1, static_cast<int64_t>(page->after));
    select.bind(2, trainer);
    select.bind(3, trainer);
    select.bind(4, static_cast<int64_t>(page->limit));
    while (select.executeStep()) {
      last = static_cast<uint64_t>(select.getColumn(0).getInt64());
      items.push_back({{"id", last},
                       {"trainer", select.getColumn(1).getString()},
                       {"ts_ms", select.getColumn(2).getInt64()},
                       {"policy_version", select.getColumn(3).getInt64()},
                       {"metrics", json::parse(select.getColumn(4).getString())}});
    }
  });
  if (!read.ok()) return respond(ErrorResponse(read));
  respond(JsonResponse(200, {{"reports", std::move(items)}, {"last_id", last}}));
}

}  // namespace

void AddTrainerReportRoutes(Router& router, Store& store) {
  router.Add("GET", "/api/v1/trainer-reports", [&store](const HttpRequest& request, const PathParams&, Respond respond) {
    ListReports(store, request, respond);
  });
}

}  // namespace rock
