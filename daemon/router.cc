#include "daemon/router.h"

#include <utility>

namespace rock {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = path.starts_with('/') ? 1 : 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    segments.emplace_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::Add(std::string method, std::string_view pattern, Handler handler) {
  const std::vector<std::string_view> parts = SplitPath(pattern);
  routes_.push_back({std::move(method), std::string(pattern), {parts.begin(), parts.end()}, std::move(handler)});
}

void Router::AddSync(std::string method, std::string_view pattern, SyncHandler handler) {
  Add(std::move(method), pattern,
      [handler = std::move(handler)](const HttpRequest& request, const PathParams& params, Respond respond) {
        respond(handler(request, params));
      });
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const Route& route : routes_) out.push_back({route.method, route.pattern});
  return out;
}

void Router::SetFallback(Handler handler) { fallback_ = std::move(handler); }

bool Router::Match(const Route& route, const std::vector<std::string_view>& parts, PathParams* params) {
  if (parts.size() != route.segments.size()) return false;
  params->clear();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& segment = route.segments[i];
    if (IsParam(segment)) {
      if (parts[i].empty()) return false;
      params->emplace(segment.substr(1, segment.size() - 2), parts[i]);
    } else if (segment != parts[i]) {
      return false;
    }
  }
  return true;
}

void Router::Dispatch(const HttpRequest& request, Respond respond, std::string_view* route) const {
  PathParams params;
  std::string allow;
  const std::vector<std::string_view> parts = SplitPath(request.path);
  // HEAD is served by GET handlers; the session drops the body.
  const std::string_view method = request.method == "HEAD" ? std::string_view("GET") : request.method;
  for (const Route& candidate : routes_) {
    if (!Match(candidate, parts, &params)) continue;
    if (candidate.method == method) {
      *route = candidate.pattern;
      candidate.handler(request, params, std::move(respond));
      return;
    }
    if (allow.find(candidate.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + candidate.method;
  }
  if (!allow.empty()) {
    *route = "unmatched";
    HttpResponse response = ErrorResponse(405, "method_not_allowed",
                                          request.method + " is not allowed on " + request.path + "; allowed: " + allow);
    response.headers.emplace_back("Allow", allow);
    respond(std::move(response));
    return;
  }
  const bool api_path = request.path.starts_with("/api/") || request.path.starts_with("/apis/") ||
                        request.path.starts_with("/ws/");
  if (fallback_ && method == "GET" && !api_path) {
    *route = "static";
    fallback_(request, params, std::move(respond));
    return;
  }
  *route = "unmatched";
  respond(ErrorResponse(404, "not_found", "no route for " + request.method + " " + request.path));
}

}  // namespace rock
