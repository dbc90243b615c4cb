// rockd: the sandboxed agent-environment daemon. Flags override the config file, which
// overrides the embedded defaults (see docs/configuration.md).
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "daemon/build_info.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/install_paths.h"

namespace {

int Fail(const std::string& message) {
  std::cerr << "rockd: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rockd: sandboxed agent environments for RL, with health checks, restart, "
               "load balancing and trajectory streaming"};
  std::string listen;
  std::string port_file;
  std::string data_dir;
  std::string config_file;
  std::string log_level;
  bool print_config = false;
  app.add_option("--listen", listen, "HOST:PORT to serve HTTP on; port 0 picks a free port");
  app.add_option("--port-file", port_file, "write the bound port to PATH once serving");
  app.add_option("--data-dir", data_dir, "directory for the database and sandbox state");
  app.add_option("--config", config_file, "JSON config file overlaid on the embedded defaults");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off");
  app.add_flag("--print-config", print_config, "print the effective configuration as JSON and exit");
  app.set_version_flag("--version", std::string(rock::build_info::Version()) + " (" +
                                        std::string(rock::build_info::GitRevision()) + ")");
  CLI11_PARSE(app, argc, argv);

  std::string overlay;
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) return Fail("cannot read config file " + config_file);
    std::ostringstream text;
    text << in.rdbuf();
    overlay = text.str();
  }
  auto config = rock::LoadConfig(overlay, config_file);
  if (!config.ok()) return Fail("config: " + config.status().message());

  if (!listen.empty()) {
    auto address = rock::ParseListenAddress(listen);
    if (!address.ok()) return Fail("--listen: " + address.status().message());
    config->http.listen = *address;
  }
  if (!data_dir.empty()) config->data_dir = data_dir;
  if (!log_level.empty()) config->log_level = log_level;
  if (const char* token = std::getenv("ROCKD_TOKEN"); token != nullptr && *token != '\0') {
    config->auth_token = token;
  }
  // ALFWorld's own variable, for users who already set it for ALFWorld's tools.
  if (const char* data = std::getenv("ALFWORLD_DATA"); data != nullptr && *data != '\0' &&
                                                       config->sandbox.alfworld_data_dir.empty()) {
    config->sandbox.alfworld_data_dir = data;
  }
  // The SWE-bench task set built and installed with rockd, unless the config names another.
  if (const auto builtin = rock::InstalledDataDir("swebench");
      config->sandbox.swebench_data_dir.empty() && std::filesystem::exists(builtin / "instances.jsonl")) {
    config->sandbox.swebench_data_dir = builtin.string();
  }
  if (rock::Status s = rock::ValidateConfig(*config); !s.ok()) return Fail("config: " + s.message());

  if (print_config) {
    std::cout << rock::ConfigToJson(*config).dump(2) << "\n";
    return 0;
  }
  // A peer that goes away mid-write (a dying sandbox worker, a closed client) must surface as
  // EPIPE on that one write, not as a signal that kills the daemon. Sandboxes get their
  // signals reset to defaults by the launcher.
  std::signal(SIGPIPE, SIG_IGN);
  rock::InitLogging(config->log_level);
  return rock::RunDaemon(*config, port_file);
}
