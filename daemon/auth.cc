#include "daemon/auth.h"

namespace rock {

bool NeedsToken(std::string_view path) {
  // /metrics names trainers, envs and traffic: what an attacker on the network would map first.
  return path.starts_with("/api/") || path.starts_with("/apis/") || path.starts_with("/ws/") || path == "/metrics";
}

bool Authorized(const HttpRequest& request, std::string_view token) {
  if (token.empty() || !NeedsToken(request.path)) return true;
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view header = request.header("authorization");
  if (header.starts_with(kBearer) && TokenMatches(header.substr(kBearer.size()), token)) return true;
  return request.path.starts_with("/ws/") && TokenMatches(request.query_param("access_token"), token);
}

HttpResponse Unauthorized() {
  HttpResponse response = ErrorResponse(401, "unauthenticated", "missing or wrong bearer token");
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"rockd\"");
  return response;
}

bool TokenMatches(std::string_view presented, std::string_view expected) {
  // Touch every byte of `expected` whatever `presented` holds; only the length can leak.
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff |= static_cast<unsigned char>(p ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0 && !expected.empty();
}

}  // namespace rock
