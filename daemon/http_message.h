// Transport-neutral HTTP request and response. The Beast session converts to and from these,
// so handlers, the router and their tests never include Beast.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rock {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // as sent: "/api/v1/x?y=1"
  std::string path;    // percent-decoded, without the query
  std::string query;   // raw query string, without '?'
  HeaderList headers;  // names lower-cased
  std::string body;
  std::string remote;  // the peer's IP address ("127.0.0.1"); per-client limits key on it

  // Empty when absent. `name` must be lower case.
  std::string_view header(std::string_view name) const;
  // Percent-decoded value of the first `key=` in the query; empty when absent.
  std::string query_param(std::string_view key) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  HeaderList headers;
};

// 200 with `body` serialized.
HttpResponse JsonResponse(int status, const nlohmann::json& body);
// `body` is JSON text already (see raw_json.h).
HttpResponse JsonTextResponse(int status, std::string body);

// The error envelope of every endpoint: {"error":{"code":"...","message":"..."}}.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message);

// The HTTP status that represents a failed Status at the API edge, with its code as `code`.
HttpResponse ErrorResponse(const Status& status);

// The request body as a JSON object, or InvalidArgument saying what is wrong with it.
StatusOr<nlohmann::json> ParseJsonObject(const HttpRequest& request);

// Decodes %XX and (in queries) '+'; returns false on a malformed escape.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

}  // namespace rock
