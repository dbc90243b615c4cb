// Requests a browser makes on behalf of a page from another site. Browsers send cross-site
// POSTs with a text/plain body and open WebSockets to any origin without asking, so without
// this a page the operator visits could drive a token-less rockd on 127.0.0.1 (CSRF); and a
// page whose DNS name rebinds to 127.0.0.1 could also read the answers (DNS rebinding).
#pragma once

#include "common/status.h"
#include "daemon/http_message.h"

namespace rock {

struct BrowserOriginPolicy {
  // Host header names must be loopback (localhost, 127.0.0.0/8, ::1): true when rockd serves
  // loopback without a token, where the Host header is the only sign of a rebinding attack.
  bool loopback_hosts_only = false;
};

// PermissionDenied, naming the header, for a request to a path that needs the token
// (daemon/auth.h) whose Origin is not the origin it was sent to, or, under
// loopback_hosts_only, whose Host is not a loopback name. Requests without these headers
// (curl, trainers, probes) pass.
Status CheckBrowserOrigin(const HttpRequest& request, const BrowserOriginPolicy& policy);

}  // namespace rock
