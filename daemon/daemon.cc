#include "daemon/daemon.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "balancer/balancer.h"
#include "common/wall_clock.h"
#include "daemon/build_info.h"
#include "daemon/client_quota.h"
#include "daemon/episode_observer.h"
#include "daemon/episode_routes.h"
#include "daemon/event_bus.h"
#include "daemon/events_endpoint.h"
#include "daemon/http_server.h"
#include "daemon/gem_routes.h"
#include "daemon/metrics.h"
#include "daemon/pool_routes.h"
#include "daemon/router.h"
#include "daemon/sandbox_observer.h"
#include "daemon/sandbox_routes.h"
#include "daemon/static_files.h"
#include "daemon/store.h"
#include "daemon/system_routes.h"
#include "daemon/trainer_stream.h"
#include "daemon/trainer_report_routes.h"
#include "daemon/trajectory_routes.h"
#include "daemon/systemd_notify.h"
#include "sandbox/cgroup_favordynmods.h"
#include "sandbox/supervisor.h"

namespace rock {
namespace {

namespace asio = boost::asio;

// Every connection and, later, every sandbox costs descriptors: take the hard limit.
void RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t wanted = limit.rlim_max;
  limit.rlim_cur = wanted;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("setrlimit(RLIMIT_NOFILE, {}): {}", wanted, std::strerror(errno));
  }
}

// Written to a temporary name and renamed, so a reader never sees a partial port.
Status WritePortFile(const std::string& path, uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return IoError("write port file " + tmp + " failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return IoError("rename " + tmp + " to " + path + ": " + ec.message());
  return Status::Ok();
}

void RecordDaemonEvent(Store& store, std::string kind, nlohmann::json detail) {
  store.Write("record daemon " + kind, [kind, detail = detail.dump(), ts = UnixMillis()](Store::Writer& w) {
    SQLite::Statement& insert = w.Prepare("INSERT INTO daemon_events (ts, kind, detail_json) VALUES (?, ?, ?)");
    insert.bind(1, static_cast<int64_t>(ts));
    insert.bind(2, kind);
    insert.bind(3, detail);
    insert.exec();
  });
}

// The supervisor reports to one observer; both the record (store, metrics, events) and the
// balancer follow its transitions.
class TransitionFanout : public sandbox::SupervisorObserver {
 public:
  explicit TransitionFanout(SandboxObserver& record) : record_(record) {}
  void Follow(balancer::Balancer* balancer) { balancer_ = balancer; }

  void OnTransition(const sandbox::Transition& transition) override {
    record_.OnTransition(transition);
    if (balancer_ != nullptr) balancer_->OnSandboxTransition(transition);
  }
  void OnReady(const std::string& sandbox_id, std::chrono::microseconds latency) override {
    record_.OnReady(sandbox_id, latency);
  }

 private:
  SandboxObserver& record_;
  balancer::Balancer* balancer_ = nullptr;
};

// The balancer reports to one observer; the record (store, metrics, events) sees everything,
// and the trainer stream turns the ends of its episodes into trajectories.
class EpisodeFanout : public balancer::BalancerObserver {
 public:
  EpisodeFanout(EpisodeObserver& record, ClientQuota& http_episodes) : record_(record), http_episodes_(http_episodes) {}
  void Follow(TrainerHub* hub) { hub_ = hub; }

  void OnEpisodeStarted(const balancer::EpisodeSummary& episode, const std::string& first_observation) override {
    record_.OnEpisodeStarted(episode, first_observation);
  }
  void OnStep(const balancer::EpisodeSummary& episode, const balancer::StepRecord& step) override {
    record_.OnStep(episode, step);
  }
  void OnEpisodeEnded(const balancer::EpisodeSummary& episode) override {
    record_.OnEpisodeEnded(episode);
    // Episodes of the HTTP APIs are owned by a client address; the trainer stream's by nobody.
    if (!episode.spec.owner.empty()) http_episodes_.Release(episode.spec.owner);
    if (hub_ != nullptr) hub_->OnEpisodeEnded(episode);
  }
  void OnFailover(const balancer::EpisodeSummary& episode, const balancer::FailoverRecord& failover) override {
    record_.OnFailover(episode, failover);
  }
  void OnPool(const balancer::PoolView& pool) override { record_.OnPool(pool); }

 private:
  EpisodeObserver& record_;
  ClientQuota& http_episodes_;
  TrainerHub* hub_ = nullptr;
};

class Daemon {
 public:
  Daemon(const Config& config, std::unique_ptr<Store> store)
      : config_(config),
        store_(std::move(store)),
        work_(asio::make_work_guard(io_)),
        signals_(io_, SIGTERM, SIGINT),
        stats_timer_(io_),
        drain_deadline_(io_),
        watchdog_(io_),
        observer_(*store_, metrics_, bus_),
        fanout_(observer_),
        supervisor_(io_, SupervisorOptions(config), fanout_),
        episode_observer_(*store_, metrics_, bus_),
        http_episodes_("open episodes", config.episodes.max_per_client),
        episode_fanout_(episode_observer_, http_episodes_),
        balancer_(io_, supervisor_, BalancerOptions(config), episode_fanout_),
        trainers_(io_, balancer_, *store_, metrics_, bus_, HubOptions(config)),
        server_(io_, ServerOptions(config), router_, metrics_) {
    fanout_.Follow(&balancer_);
    episode_fanout_.Follow(&trainers_);
  }

  int Run(const std::string& port_file) {
    // A predecessor killed with -9 may have left sandboxes: their processes, cgroups and
    // directories go before anything new starts.
    if (Status s = supervisor_.RemoveStale(); !s.ok()) {
      spdlog::warn("removing leftovers of a previous run: {}", s.message());
    }
    observer_.RecordStaleStopped();
    episode_observer_.RecordStaleFailed();
    // Without it a sandbox's first process joining its cgroup may wait for an RCU grace period
    // (sandbox/cgroup_favordynmods.h). A host that cannot have it still runs sandboxes, slower.
    if (Status s = config_.sandbox.favordynmods ? sandbox::SetFavorDynmods(true) : Status::Ok(); !s.ok()) {
      spdlog::warn("sandbox.favordynmods: {}; sandbox creation keeps a 10-25 ms tail", s.message());
    }
    AddSystemRoutes(router_, {config_, metrics_, *store_, ready_, [this] { return balancer_.AtMinimum(); }, port_,
                               started_});
    AddSandboxRoutes(router_, supervisor_, *store_, config_);
    AddPoolRoutes(router_, balancer_, config_);
    AddEpisodeRoutes(router_, balancer_, *store_, io_, http_episodes_);
    AddGemRoutes(router_, balancer_, http_episodes_);
    AddTrajectoryRoutes(router_, *store_);
    AddTrainerReportRoutes(router_, *store_);
    if (Status s = StartPools(); !s.ok()) {
      spdlog::critical("{}", s.message());
      return 1;
    }
    ServeDashboard();
    ServeWebSocket("/ws/events", MakeEventsEndpoint(bus_));
    ServeWebSocket("/ws/trainer", trainers_.Endpoint());
    trainers_.StartRetention();
    if (Status s = server_.Listen(); !s.ok()) {
      spdlog::critical("cannot serve HTTP: {}", s.message());
      return 1;
    }
    port_ = server_.port();
    if (!port_file.empty()) {
      if (Status s = WritePortFile(port_file, port_); !s.ok()) {
        spdlog::critical("{}", s.message());
        return 1;
      }
    }
    server_.Start();
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (!ec) Shutdown(signal);
    });
    TickStats();

    std::vector<std::jthread> threads;
    for (uint32_t i = 1; i < config_.http.threads; ++i) threads.emplace_back([this] { io_.run(); });
    ready_ = true;
    RecordDaemonEvent(*store_, "start", {{"version", build_info::Version()}, {"pid", getpid()}, {"port", port_.load()}});
    spdlog::info("rockd {} ({}) serving on http://{}:{}/ with data in {}", build_info::Version(),
                 build_info::GitRevision(), config_.http.listen.host, port_.load(), config_.data_dir);
    NotifyReady("serving on port " + std::to_string(port_.load()));
    if (const auto interval = watchdog_.Start(); interval.count() > 0) {
      spdlog::info("systemd watchdog: pinging every {} ms", interval.count() / 1000);
    }
    io_.run();
    threads.clear();

    RecordDaemonEvent(*store_, "stop", {{"signal", stop_signal_}});
    if (Status s = store_->Flush(); !s.ok()) {
      spdlog::error("flushing the store at shutdown: {}", s.message());
      return 1;
    }
    spdlog::info("rockd stopped");
    return 0;
  }

 private:
  static sandbox::SupervisorOptions SupervisorOptions(const Config& config) {
    using std::chrono::milliseconds;
    const SandboxConfig& sc = config.sandbox;
    sandbox::SupervisorOptions options;
    options.worker_path = sc.worker.empty() ? WorkerNextToRockd() : sc.worker;
    options.cgroup_parent = CgroupParentFor(config.data_dir);
    options.state_dir = std::filesystem::path(config.data_dir) / "sandboxes";
    options.health_interval = milliseconds(sc.health_interval_ms);
    options.health_misses = sc.health_misses;
    options.ready_timeout = milliseconds(sc.ready_timeout_ms);
    options.backoff_initial = milliseconds(sc.backoff_initial_ms);
    options.backoff_max = milliseconds(sc.backoff_max_ms);
    options.crash_loop_failures = sc.crash_loop_failures;
    options.crash_loop_window = milliseconds(sc.crash_loop_window_ms);
    return options;
  }

  // "rockd-<hash of the data dir>": stable across restarts, so a new rockd finds what its
  // killed predecessor left, and distinct for every data dir, so two rockd never share one.
  static std::string CgroupParentFor(const std::string& data_dir) {
    std::error_code ec;
    const std::string path = std::filesystem::weakly_canonical(data_dir, ec).string();
    uint64_t hash = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : ec ? data_dir : path) hash = (hash ^ c) * 1099511628211ull;
    char name[32];
    std::snprintf(name, sizeof(name), "rockd-%012llx", static_cast<unsigned long long>(hash & 0xffffffffffffull));
    return name;
  }

  static std::string WorkerNextToRockd() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("/usr/local/bin/rock-env") : (exe.parent_path() / "rock-env").string();
  }

  static balancer::BalancerOptions BalancerOptions(const Config& config) {
    using std::chrono::milliseconds;
    balancer::BalancerOptions options;
    options.step_timeout = milliseconds(config.episodes.step_timeout_ms);
    options.queue_timeout = milliseconds(config.episodes.queue_timeout_ms);
    options.idle_timeout = milliseconds(config.episodes.idle_timeout_ms);
    options.max_failovers = config.episodes.max_failovers;
    options.keep_finished = config.episodes.keep_finished;
    return options;
  }

  // The config's pools start warming now; /readyz answers 503 until they reach their minimum.
  Status StartPools() {
    for (const auto& [env, settings] : config_.pools) {
      StatusOr<balancer::PoolConfig> pool = MakePoolConfig(env, settings, config_);
      if (!pool.ok()) return pool.status().WithContext("pool '" + env + "'");
      spdlog::info("pool {}: {} to {} sandboxes of {} slots", env, settings.min, settings.max, settings.slots);
      // An init-capture: clang before 16 (the fuzz build) cannot capture a structured binding.
      balancer_.SetPool(env, std::move(pool).value(), [env = env](StatusOr<balancer::PoolView> view) {
        if (!view.ok()) spdlog::error("pool {}: {}", env, view.status().message());
      });
    }
    return Status::Ok();
  }

  static TrainerHubOptions HubOptions(const Config& config) {
    TrainerHubOptions options;
    options.max_trainers = config.stream.max_trainers;
    options.max_episodes_per_trainer = config.stream.max_episodes_per_trainer;
    options.max_staleness = config.stream.max_staleness;
    options.retain_acked = std::chrono::seconds(config.stream.retain_acked_s);
    return options;
  }

  static HttpServerOptions ServerOptions(const Config& config) {
    HttpServerOptions options;
    options.listen = config.http.listen;
    options.max_body_bytes = config.http.max_body_bytes;
    options.max_header_bytes = config.http.max_header_bytes;
    options.header_timeout = std::chrono::milliseconds(config.http.header_timeout_ms);
    options.body_timeout = std::chrono::milliseconds(config.http.body_timeout_ms);
    options.idle_timeout = std::chrono::milliseconds(config.http.idle_timeout_ms);
    options.write_timeout = std::chrono::milliseconds(config.http.write_timeout_ms);
    options.ws_queue_messages = config.events.client_queue_messages;
    options.auth_token = config.auth_token;
    options.allow_remote_without_token = config.allow_remote_without_token;
    options.max_connections_per_client = config.http.max_connections_per_client;
    return options;
  }

  void ServeDashboard() {
    const auto dir = DashboardDir(config_.dashboard_dir);
    auto files = StaticFiles::Load(dir);
    if (!files.ok()) {
      spdlog::warn("dashboard not served: {}", files.status().message());
      return;
    }
    spdlog::info("serving the dashboard from {} ({} files)", dir.string(), files->size());
    static_files_ = std::move(files).value();
    router_.SetFallback([this](const HttpRequest& request, const PathParams&, Respond respond) {
      respond(static_files_->Serve(request));
    });
  }

  // The endpoint is also a route, so GET /api/v1/routes lists it (and the auth test walks it);
  // a GET without the upgrade learns what the path wants.
  void ServeWebSocket(const std::string& path, WsEndpoint endpoint) {
    server_.AddWebSocket(path, std::move(endpoint));
    router_.AddSync("GET", path, [path](const HttpRequest&, const PathParams&) {
      HttpResponse response =
          ErrorResponse(426, "upgrade_required", path + " is a WebSocket endpoint: send an 'Upgrade: websocket'");
      response.headers.emplace_back("Upgrade", "websocket");
      return response;
    });
  }

  void TickStats() {
    stats_timer_.expires_after(std::chrono::milliseconds(config_.events.stats_interval_ms));
    stats_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      bus_.Publish("stats", {{"uptime_s", std::chrono::duration<double>(std::chrono::system_clock::now() - started_).count()},
                             {"event_clients", bus_.subscribers()}});
      balancer_.ListPools([this](std::vector<balancer::PoolView> pools) {
        nlohmann::json items = nlohmann::json::array();
        for (const auto& pool : pools) items.push_back(PoolToJson(pool));
        bus_.Publish("pools", {{"pools", std::move(items)}});
      });
      TickStats();
    });
  }

  void Shutdown(int signal) {
    stop_signal_ = signal;
    spdlog::info("received {}, draining connections", strsignal(signal));
    ready_ = false;
    NotifyStopping();
    watchdog_.Stop();
    stats_timer_.cancel();
    trainers_.Stop();
    bus_.Publish("shutdown", {{"signal", strsignal(signal)}});
    drain_deadline_.expires_after(std::chrono::milliseconds(config_.drain_timeout_ms));
    drain_deadline_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      spdlog::warn("connections still open after {} ms; closing them", config_.drain_timeout_ms);
      io_.stop();
    });
    // Episodes, then sandboxes: pending steps and execs are answered at once, so draining HTTP
    // does not wait out a long command, and no episode fails over onto a stopping sandbox.
    balancer_.Stop([this] { StopSandboxes(); });
    // A second signal means "now".
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) io_.stop();
    });
  }

  void StopSandboxes() {
    supervisor_.StopAll([this] {
      // Every sandbox is gone; this instance's parent cgroup goes too, leaving the host as found.
      if (Status s = supervisor_.RemoveStale(); !s.ok()) spdlog::warn("removing the sandboxes' cgroup: {}", s.message());
      server_.Drain([this] {
        drain_deadline_.cancel();
        work_.reset();
        io_.stop();
      });
    });
  }

  const Config& config_;
  std::unique_ptr<Store> store_;
  const std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  std::atomic<bool> ready_{false};
  std::atomic<uint16_t> port_{0};
  int stop_signal_ = 0;

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::signal_set signals_;
  asio::steady_timer stats_timer_;
  asio::steady_timer drain_deadline_;
  Watchdog watchdog_;
  Metrics metrics_;
  EventBus bus_;
  Router router_;
  std::optional<StaticFiles> static_files_;
  SandboxObserver observer_;
  TransitionFanout fanout_;
  sandbox::Supervisor supervisor_;
  EpisodeObserver episode_observer_;
  ClientQuota http_episodes_;  // open episodes per client address (episodes.max_per_client)
  EpisodeFanout episode_fanout_;
  balancer::Balancer balancer_;
  TrainerHub trainers_;
  HttpServer server_;
};

}  // namespace

int RunDaemon(const Config& config, const std::string& port_file) {
  RaiseFdLimit();
  auto store = Store::Open(config.data_dir, StoreOptions{config.store_batch_max});
  if (!store.ok()) {
    spdlog::critical("cannot open the store: {}", store.status().message());
    return 1;
  }
  Daemon daemon(config, std::move(store).value());
  return daemon.Run(port_file);
}

}  // namespace rock
