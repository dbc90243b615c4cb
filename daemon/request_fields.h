// Checks for the fields of JSON request bodies and for query parameters; every message names the
// field (a body field prefixed with `where`, "limits.").
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "daemon/http_message.h"

namespace rock {

// Every key of `object` must be in `allowed`: a typo is an error, not a silent default.
Status CheckKeys(const nlohmann::json& object, std::initializer_list<std::string_view> allowed, std::string_view where);

// Reads `key` into `out` when present: an integer from `lo` to `hi`.
Status ReadUnsigned(const nlohmann::json& object, const char* key, uint64_t lo, uint64_t hi, std::string_view where,
                    uint64_t* out);

// A listing's page from the query: the cursor `after_key` (0 to 2^63-1, default 0) and `limit`
// (1 to 10,000, default 1000).
struct PageQuery {
  uint64_t after = 0;
  uint64_t limit = 0;
};
StatusOr<PageQuery> QueryPage(const HttpRequest& request, std::string_view after_key);

}  // namespace rock
