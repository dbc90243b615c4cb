// rockd's Prometheus registry (prometheus-cpp core) and the metrics of the HTTP layer.
// Other parts register their own families on registry(); /metrics serializes it through our
// own server (no civetweb exposer).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace rock {

class Metrics {
 public:
  Metrics();

  prometheus::Registry& registry() { return *registry_; }

  // Thread-safe. `route` is the route pattern, never the raw path, to bound cardinality.
  // `route` and `method` must point at storage that outlives the Metrics (route patterns,
  // literals): the handle cache is keyed by their addresses so the hot path never allocates.
  void ObserveHttp(std::string_view route, std::string_view method, int status, double seconds);
  void WsClientConnected(std::string_view path);
  void WsClientDisconnected(std::string_view path);
  void WsClientDropped(std::string_view path);

  // Refreshes process gauges and returns the text exposition format.
  std::string Serialize();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::chrono::steady_clock::time_point started_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_duration_;
  prometheus::Family<prometheus::Gauge>& ws_clients_;
  prometheus::Family<prometheus::Counter>& ws_dropped_;
  prometheus::Gauge& uptime_;
  prometheus::Gauge& start_time_;
  prometheus::Gauge& resident_memory_;
  prometheus::Gauge& open_fds_;
  prometheus::Gauge& max_fds_;

  // Family::Add locks and hashes labels; caching the handles keeps the request path cheap.
  std::mutex cache_mutex_;
  std::map<std::tuple<const char*, const char*, int>, prometheus::Counter*> request_counters_;
  std::map<const char*, prometheus::Histogram*> duration_histograms_;
};

}  // namespace rock
