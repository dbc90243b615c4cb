#include "daemon/request_fields.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace rock {

Status CheckKeys(const nlohmann::json& object, std::initializer_list<std::string_view> allowed, std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return InvalidArgument("unknown field '" + std::string(where) + key + "'");
    }
  }
  return Status::Ok();
}

Status ReadUnsigned(const nlohmann::json& object, const char* key, uint64_t lo, uint64_t hi, std::string_view where,
                    uint64_t* out) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  if (!it->is_number_unsigned() || it->get<uint64_t>() < lo || it->get<uint64_t>() > hi) {
    return InvalidArgument("'" + std::string(where) + key + "' must be an integer from " + std::to_string(lo) +
                           " to " + std::to_string(hi));
  }
  *out = it->get<uint64_t>();
  return Status::Ok();
}

namespace {

// The query parameter `key` as an integer from `lo` to `hi`; `fallback` when absent.
StatusOr<uint64_t> QueryUnsigned(const HttpRequest& request, std::string_view key, uint64_t lo, uint64_t hi,
                                 uint64_t fallback) {
  const std::string text = request.query_param(key);
  if (text.empty()) return fallback;
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < lo || value > hi) {
    return InvalidArgument("'" + std::string(key) + "' must be an integer from " + std::to_string(lo) + " to " +
                           std::to_string(hi) + ", got '" + text + "'");
  }
  return value;
}

}  // namespace

StatusOr<PageQuery> QueryPage(const HttpRequest& request, std::string_view after_key) {
  const StatusOr<uint64_t> after = QueryUnsigned(request, after_key, 0, (uint64_t{1} << 63) - 1, 0);
  if (!after.ok()) return after.status();
  const StatusOr<uint64_t> limit = QueryUnsigned(request, "limit", 1, 10'000, 1000);
  if (!limit.ok()) return limit.status();
  return PageQuery{*after, *limit};
}

}  // namespace rock
