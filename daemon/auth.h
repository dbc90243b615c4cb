// Who may call what when a token is configured (docs/security.md): /api/*, /apis/*, /ws/* and
// /metrics need it; /healthz, /readyz and the dashboard's static files never do, so probes keep
// working and the page can load to ask for the token.
#pragma once

#include <string_view>

#include "daemon/http_message.h"

namespace rock {

// Whether `path` (percent-decoded, no query) needs the token when one is configured.
bool NeedsToken(std::string_view path);

// True when no token is configured, the path is open, or the request presents the token:
// "Authorization: Bearer <token>", or on /ws/* also "?access_token=<token>" (browsers cannot set
// headers on a WebSocket handshake).
bool Authorized(const HttpRequest& request, std::string_view token);

// 401 with the error envelope and a WWW-Authenticate challenge.
HttpResponse Unauthorized();

// Constant-time comparison of a presented bearer token with the configured one.
bool TokenMatches(std::string_view presented, std::string_view expected);

}  // namespace rock
