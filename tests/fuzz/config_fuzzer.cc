// libFuzzer target: rockd's configuration (daemon/config.h), the JSON overlay on the embedded
// defaults, and the listen address it names. The whole input is tried as an overlay and as an
// address. Beyond "no crash", a config that loads must pass ValidateConfig and come back equal
// from its own file format (what --print-config writes must load again), and an address that
// parses must do the same inside a config.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/config.h"
#include "tests/fuzz/require.h"

namespace rock {
namespace {

using fuzz::Require;

// The config `overlay` loads to, if any, after checking that it survives its file format.
void LoadsAndRoundTrips(std::string_view overlay) {
  auto config = LoadConfig(overlay, "fuzz input");
  if (!config.ok()) {
    Require(!config.status().message().empty());
    return;
  }
  Require(ValidateConfig(*config).ok());
  const nlohmann::json printed = ConfigToJson(*config);
  auto again = LoadConfig(printed.dump(), "printed config");
  Require(again.ok() && ConfigToJson(*again) == printed);
}

}  // namespace
}  // namespace rock

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rock;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  LoadsAndRoundTrips(text);
  auto address = ParseListenAddress(text);
  if (!address.ok()) return 0;
  // JSON holds only UTF-8: an address that is not (the replacement changed it) cannot be in a file.
  const nlohmann::json quoted = nlohmann::json::parse(
      nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (quoted.get_ref<const std::string&>() != text) return 0;
  auto config = LoadConfig(nlohmann::json{{"http", {{"listen", quoted}}}}.dump(), "fuzz address");
  Require(config.ok() && config->http.listen.host == address->host && config->http.listen.port == address->port);
  LoadsAndRoundTrips(ConfigToJson(*config).dump());
  return 0;
}
