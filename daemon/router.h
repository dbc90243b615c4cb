// Maps (method, path) to handlers. Patterns are literal segments and `{name}` parameters:
// "/api/v1/sandboxes/{id}". A path that no pattern matches gets the fallback (or 404); a path
// that matches with another method gets 405 with an Allow header.
//
// Handlers answer through `Respond`, possibly later and from another thread, so slow work
// (exec, store reads) never holds an I/O thread. Respond must be called exactly once.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/http_message.h"

namespace rock {

using PathParams = std::map<std::string, std::string, std::less<>>;
using Respond = std::function<void(HttpResponse)>;
using Handler = std::function<void(const HttpRequest&, const PathParams&, Respond)>;
using SyncHandler = std::function<HttpResponse(const HttpRequest&, const PathParams&)>;

class Router {
 public:
  void Add(std::string method, std::string_view pattern, Handler handler);
  // For handlers that answer at once.
  void AddSync(std::string method, std::string_view pattern, SyncHandler handler);
  // Called for GET/HEAD paths that match no route (the dashboard's static files), except
  // under /api/, /apis/ and /ws/, where an unknown path is always a JSON 404.
  void SetFallback(Handler handler);

  // Dispatches `request`. `route` receives the matched pattern (a bounded set, for metric
  // labels): the route pattern, "static", or "unmatched".
  void Dispatch(const HttpRequest& request, Respond respond, std::string_view* route) const;

  struct RouteInfo {
    std::string_view method;
    std::string_view pattern;
  };
  // Every registered route in registration order (GET /api/v1/routes, and the test that
  // checks each one against the token). Valid while the router lives; not to be called
  // concurrently with Add.
  std::vector<RouteInfo> Routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{id}" marks a parameter
    Handler handler;
  };
  static bool Match(const Route& route, const std::vector<std::string_view>& parts, PathParams* params);

  std::deque<Route> routes_;  // deque: patterns keep their address, metrics key on it
  Handler fallback_;
};

}  // namespace rock
