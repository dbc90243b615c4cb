#include "daemon/browser_origin.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "daemon/auth.h"

namespace rock {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "localhost:8080" → "localhost", "[::1]:80" → "::1", "127.0.0.1" → "127.0.0.1".
std::string_view HostName(std::string_view host) {
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  return host.substr(0, host.find(':'));
}

bool IsLoopbackName(const std::string& name) {
  if (name == "localhost" || name.ends_with(".localhost") || name == "::1") return true;
  // 127.0.0.0/8 in dotted form; other spellings of it (127.1, decimal) are not accepted.
  if (!name.starts_with("127.")) return false;
  int dots = 0;
  for (char c : name) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

}  // namespace

Status CheckBrowserOrigin(const HttpRequest& request, const BrowserOriginPolicy& policy) {
  if (!NeedsToken(request.path)) return Status::Ok();
  const std::string host = Lower(request.header("host"));
  if (const std::string_view origin = request.header("origin"); !origin.empty()) {
    // The origin a page was loaded from is scheme://host[:port]; the dashboard's own requests
    // carry rockd's address, exactly as in Host.
    const std::string lowered = Lower(origin);
    const auto scheme_end = lowered.find("://");
    const std::string origin_host = scheme_end == std::string::npos ? "" : lowered.substr(scheme_end + 3);
    if (origin_host.empty() || origin_host != host) {
      return Status(Code::kPermissionDenied, "Origin '" + std::string(origin) + "' is not this server ('" + host +
                                                 "'): cross-site requests are refused");
    }
  }
  if (policy.loopback_hosts_only && !host.empty() && !IsLoopbackName(std::string(HostName(host)))) {
    return Status(Code::kPermissionDenied,
                  "Host '" + host +
                      "' is not a loopback name: rockd serves loopback without a token, so a request for another "
                      "name is a DNS rebinding attempt (set auth.token to serve other names)");
  }
  return Status::Ok();
}

}  // namespace rock
