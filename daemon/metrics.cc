#include "daemon/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <prometheus/text_serializer.h>

namespace rock {
namespace {

// Seconds, from 100 us to 10 s: /healthz is microseconds, exec calls are seconds.
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0;
  long pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double OpenFds() {
  std::error_code ec;
  double count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

double MaxFds() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<double>(limit.rlim_cur);
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      started_(std::chrono::steady_clock::now()),
      http_requests_(prometheus::BuildCounter()
                         .Name("rockd_http_requests_total")
                         .Help("HTTP requests served, by route pattern, method and status code.")
                         .Register(*registry_)),
      http_duration_(prometheus::BuildHistogram()
                         .Name("rockd_http_request_duration_seconds")
                         .Help("Time from a complete request to its response being handed to the socket.")
                         .Register(*registry_)),
      ws_clients_(prometheus::BuildGauge()
                      .Name("rockd_websocket_clients")
                      .Help("Connected WebSocket clients, by endpoint.")
                      .Register(*registry_)),
      ws_dropped_(prometheus::BuildCounter()
                      .Name("rockd_websocket_clients_dropped_total")
                      .Help("WebSocket clients disconnected because they fell too far behind.")
                      .Register(*registry_)),
      uptime_(prometheus::BuildGauge()
                  .Name("rockd_uptime_seconds")
                  .Help("Seconds since rockd started.")
                  .Register(*registry_)
                  .Add({})),
      start_time_(prometheus::BuildGauge()
                      .Name("process_start_time_seconds")
                      .Help("Start time of the process since the Unix epoch in seconds.")
                      .Register(*registry_)
                      .Add({})),
      resident_memory_(prometheus::BuildGauge()
                           .Name("process_resident_memory_bytes")
                           .Help("Resident memory size in bytes.")
                           .Register(*registry_)
                           .Add({})),
      open_fds_(prometheus::BuildGauge()
                    .Name("process_open_fds")
                    .Help("Number of open file descriptors.")
                    .Register(*registry_)
                    .Add({})),
      max_fds_(prometheus::BuildGauge()
                   .Name("process_max_fds")
                   .Help("Maximum number of open file descriptors.")
                   .Register(*registry_)
                   .Add({})) {
  start_time_.Set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  for (const char* path : {"/ws/events"}) ws_clients_.Add({{"endpoint", path}});
}

void Metrics::ObserveHttp(std::string_view route, std::string_view method, int status, double seconds) {
  prometheus::Counter* counter = nullptr;
  prometheus::Histogram* histogram = nullptr;
  {
    std::lock_guard lock(cache_mutex_);
    const auto key = std::make_tuple(route.data(), method.data(), status);
    auto it = request_counters_.find(key);
    if (it == request_counters_.end()) {
      // Family::Add returns the existing child for equal labels, so two addresses holding the
      // same text share one series.
      auto& added = http_requests_.Add(
          {{"route", std::string(route)}, {"method", std::string(method)}, {"code", std::to_string(status)}});
      it = request_counters_.emplace(key, &added).first;
    }
    counter = it->second;
    auto hit = duration_histograms_.find(route.data());
    if (hit == duration_histograms_.end()) {
      auto& added = http_duration_.Add({{"route", std::string(route)}}, kLatencyBuckets);
      hit = duration_histograms_.emplace(route.data(), &added).first;
    }
    histogram = hit->second;
  }
  counter->Increment();
  histogram->Observe(seconds);
}

void Metrics::WsClientConnected(std::string_view path) { ws_clients_.Add({{"endpoint", std::string(path)}}).Increment(); }

void Metrics::WsClientDisconnected(std::string_view path) {
  ws_clients_.Add({{"endpoint", std::string(path)}}).Decrement();
}

void Metrics::WsClientDropped(std::string_view path) { ws_dropped_.Add({{"endpoint", std::string(path)}}).Increment(); }

std::string Metrics::Serialize() {
  uptime_.Set(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  resident_memory_.Set(ResidentBytes());
  open_fds_.Set(OpenFds());
  max_fds_.Set(MaxFds());
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace rock
