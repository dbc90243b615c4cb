// Episode benchmarks (issue 5), all in one run against one real rockd, so every figure shares
// the machine state:
//   alfworld  steps/s and step round trip through the HTTP episode API with 1, 64 and 1,024
//             concurrent episodes (one keep-alive connection each, random admissible actions)
//   sleepy    useful episodes/s on the same 40 slots of `sleepy` sandboxes (heavy-tailed step
//             sleeps) for a synchronous batch loop (every round waits for its slowest env), queue
//             scheduling (each episode runs on its own), queue scheduling in GRPO groups of 8,
//             and the same groups with 2 redundant episodes each (the slowest cancelled)
// The client is one thread of C++20 coroutines over Beast. Prints a markdown block for
// docs/BENCHMARKS.md on stdout and progress on stderr. Needs root (pool sandboxes). A benchmark,
// not a test: timings are reported, never asserted.
//
//   build/bin/episode_bench [--seconds N] [--http-threads N] [--stream-only]
//     window per row (default 5 s); rockd's http.threads (default 2); only the trainer stream and
//     GEM rows, for working on that path
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr uint32_t kAlfworldSlots = 256;  // per sandbox; 4 sandboxes hold the 1,024 episodes
constexpr uint32_t kSleepySlots = 40;     // sandboxes of one slot: a sleepy step blocks its worker
constexpr uint32_t kGroupSize = 8;
constexpr uint32_t kRedundancy = 2;

// Both pools warm at start-up; failure detection as shipped.
std::string BenchConfig(uint32_t http_threads) {
  return json{{"http", {{"threads", http_threads}}},
              // Above the 1,024 HTTP episodes of one row: a client may start its next episode
              // before rockd has released the unit of the one that just ended.
              {"episodes", {{"keep_finished", 4096}, {"max_per_client", 4096}}},
              {"pools",
               {{"alfworld", {{"min", 4}, {"max", 4}, {"slots", kAlfworldSlots}}},
                {"sleepy", {{"min", kSleepySlots}, {"max", kSleepySlots}, {"slots", 1}, {"limits", {{"memory_mb", 64}}}}}}}}
      .dump();
}

struct Reply {
  int status = 0;
  json body;
};

// One keep-alive HTTP/1.1 connection to rockd; a transport error throws.
class Connection {
 public:
  explicit Connection(asio::any_io_executor executor) : stream_(std::move(executor)) {}

  awaitable<void> Connect(uint16_t port) {
    stream_.expires_after(std::chrono::seconds(30));
    co_await stream_.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), use_awaitable);
    stream_.socket().set_option(asio::ip::tcp::no_delay(true));
  }

  awaitable<Reply> Call(http::verb verb, const std::string& target, const json& body = nullptr) {
    http::request<http::string_body> request(verb, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.keep_alive(true);
    if (!body.is_null()) {
      request.set(http::field::content_type, "application/json");
      request.body() = body.dump();
    }
    request.prepare_payload();
    stream_.expires_after(std::chrono::seconds(60));
    co_await http::async_write(stream_, request, use_awaitable);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    co_await http::async_read(stream_, buffer_, parser, use_awaitable);
    Reply reply;
    reply.status = static_cast<int>(parser.get().result_int());
    reply.body = json::parse(parser.get().body(), nullptr, /*allow_exceptions=*/false);
    co_return reply;
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

Reply Expect(Reply reply, int status, const std::string& what) {
  if (reply.status != status) throw std::runtime_error(what + ": HTTP " + std::to_string(reply.status) + " " + reply.body.dump());
  return reply;
}

// Waits for `count` coroutines to call Done().
class Latch {
 public:
  Latch(asio::any_io_executor executor, std::size_t count) : timer_(std::move(executor)), count_(count) {
    timer_.expires_at(Clock::time_point::max());
  }
  void Done() {
    if (--count_ == 0) timer_.cancel();
  }
  awaitable<void> Wait() {
    if (count_ == 0) co_return;
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
  }

 private:
  asio::steady_timer timer_;
  std::size_t count_;
};

// Runs `count` coroutines made by `make(i)` at once and waits for all; the first error is
// rethrown after all have ended.
// `make` is taken by value: the coroutine frame keeps it (and the lambdas it holds) alive.
awaitable<void> All(std::size_t count, std::function<awaitable<void>(std::size_t)> make) {
  auto executor = co_await asio::this_coro::executor;
  auto latch = std::make_shared<Latch>(executor, count);
  auto error = std::make_shared<std::exception_ptr>();
  for (std::size_t i = 0; i < count; ++i) {
    asio::co_spawn(executor, make(i), [latch, error](std::exception_ptr e) {
      if (e && !*error) *error = e;
      latch->Done();
    });
  }
  co_await latch->Wait();
  if (*error) std::rethrow_exception(*error);
}

void Run(asio::io_context& io, awaitable<void> work) {
  std::exception_ptr error;
  asio::co_spawn(io, std::move(work), [&](std::exception_ptr e) { error = e; });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(q * static_cast<double>(values.size() - 1))];
}

// ---- alfworld: steps through the HTTP episode API ----

struct StepTally {
  Clock::time_point from, to;  // the measured window (after warm-up)
  uint64_t steps = 0;
  uint64_t episodes = 0;  // ended inside the window
  std::vector<double> latency_us;
  bool Counts(Clock::time_point t) const { return t >= from && t <= to; }
  // One round trip, counted when it was answered inside the window.
  void Record(Clock::time_point began, Clock::time_point answered, bool ended = false) {
    if (!Counts(answered)) return;
    ++steps;
    episodes += ended;
    latency_us.push_back(std::chrono::duration<double, std::micro>(answered - began).count());
  }
};

// A random admissible command of an ALFWorld obs's info ("look" when it lists none).
std::string PickAdmissible(const json& info, std::mt19937_64& random) {
  const json& commands = info["admissible_commands"];
  return commands.empty() ? "look" : commands[random() % commands.size()].get<std::string>();
}

awaitable<void> PlayAlfworld(uint16_t port, uint64_t client, StepTally& tally) {
  Connection c(co_await asio::this_coro::executor);
  co_await c.Connect(port);
  std::mt19937_64 random(client);
  uint64_t seed = client * 1'000'003;
  while (Clock::now() < tally.to) {
    const json start = {{"env", "alfworld"}, {"seed", seed++}, {"max_steps", 30}};
    const Reply started = Expect(co_await c.Call(http::verb::post, "/api/v1/episodes", start), 201, "start");
    const std::string id = started.body["id"];
    json info = started.body["info"];
    for (bool ended = false; !ended;) {
      if (Clock::now() >= tally.to) {
        Expect(co_await c.Call(http::verb::delete_, "/api/v1/episodes/" + id), 200, "delete " + id);
        co_return;
      }
      const json body = {{"action", PickAdmissible(info, random)}};
      const auto began = Clock::now();
      const Reply step = Expect(co_await c.Call(http::verb::post, "/api/v1/episodes/" + id + "/step", body), 200, "step " + id);
      ended = step.body["terminated"].get<bool>() || step.body["truncated"].get<bool>();
      tally.Record(began, Clock::now(), ended);
      info = step.body["info"];
    }
  }
}

// The floor the step path is measured against: the same client and connection, a request that
// touches neither the balancer nor a sandbox.
awaitable<void> PollHealthz(uint16_t port, StepTally& tally) {
  Connection c(co_await asio::this_coro::executor);
  co_await c.Connect(port);
  while (Clock::now() < tally.to) {
    const auto began = Clock::now();
    Expect(co_await c.Call(http::verb::get, "/healthz"), 200, "healthz");
    tally.Record(began, Clock::now());
  }
}

// ---- where a step's CPU goes ----

// CPU seconds (user + system) of process `pid` so far; 0 once it is gone.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto name_end = text.rfind(')');  // the command name may hold spaces
  if (name_end == std::string::npos) return 0;
  std::istringstream fields(text.substr(name_end + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of every rock-env process (the sandboxes' workers).
double WorkerCpuSeconds() {
  double total = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); })) continue;
    std::ifstream comm(entry.path() / "comm");
    std::string command;
    if (std::getline(comm, command) && command == "rock-env") total += ProcessCpuSeconds(std::stoi(name));
  }
  return total;
}

double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct CpuSample {
  double rockd = 0, workers = 0, client = 0;
};

CpuSample SampleCpu(pid_t rockd) { return {ProcessCpuSeconds(rockd), WorkerCpuSeconds(), OwnCpuSeconds()}; }

// CPU per step of rockd, the workers and this client over a row's window.
struct CpuSplit {
  pid_t rockd = 0;
  CpuSample from, to;
  uint64_t steps = 0;  // answered in the window
  std::string Line() const {
    const auto per_step = [this](double a, double b) { return steps == 0 ? 0.0 : (b - a) / static_cast<double>(steps) * 1e6; };
    return fmt::format("CPU per step over that row's window: rockd {:.0f} µs, the rock-env workers {:.0f} µs, this client "
                       "{:.0f} µs ({:.0f} µs in all, for 2 cores)",
                       per_step(from.rockd, to.rockd), per_step(from.workers, to.workers),
                       per_step(from.client, to.client),
                       per_step(from.rockd + from.workers + from.client, to.rockd + to.workers + to.client));
  }
};

// Samples `split` at the window's start and end, on the clients' own thread.
awaitable<void> SampleWindow(const StepTally& tally, CpuSplit& split) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_at(tally.from);
  co_await timer.async_wait(use_awaitable);
  split.from = SampleCpu(split.rockd);
  timer.expires_at(tally.to);
  co_await timer.async_wait(use_awaitable);
  split.to = SampleCpu(split.rockd);
}

// One row of `concurrent` episodes in flight: `play(i)` runs client i (1-based) of `clients`
// for the window after 1 s of warm-up (connections opened, episodes started).
// With `cpu`, also where the window's CPU went; its `rockd` names the process.
std::string StepRow(asio::io_context& io, const std::string& label, std::size_t concurrent, std::size_t clients,
                    std::chrono::seconds window, const std::function<awaitable<void>(std::size_t, StepTally&)>& play,
                    CpuSplit* cpu = nullptr) {
  StepTally tally;
  tally.from = Clock::now() + std::chrono::seconds(1);
  tally.to = tally.from + window;
  Run(io, All(clients + (cpu != nullptr), [&](std::size_t i) {
        return i == clients ? SampleWindow(tally, *cpu) : play(i + 1, tally);
      }));
  if (cpu != nullptr) cpu->steps = tally.steps;
  const double seconds = std::chrono::duration<double>(tally.to - tally.from).count();
  std::fprintf(stderr, "%s x%zu: %lu requests\n", label.c_str(), concurrent, static_cast<unsigned long>(tally.steps));
  return fmt::format("| {} | {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} |\n", label, concurrent, tally.steps / seconds,
                     tally.episodes / seconds, Percentile(tally.latency_us, 0.5), Percentile(tally.latency_us, 0.99));
}

// ---- the trainer stream and the GEM API: the same ALFWorld steps over other wires ----

// One /ws/trainer connection driving `concurrent` episodes: every obs is answered with an act at
// once, every trajectory acked, and each ended episode replaced by a new one, so that
// `concurrent` stay in flight. Counts act → obs round trips that end inside the window.
awaitable<void> StreamTrainer(uint16_t port, uint64_t client, std::size_t concurrent, StepTally& tally) {
  websocket::stream<beast::tcp_stream> ws(co_await asio::this_coro::executor);
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
  co_await beast::get_lowest_layer(ws).async_connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), use_awaitable);
  beast::get_lowest_layer(ws).socket().set_option(asio::ip::tcp::no_delay(true));
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  co_await ws.async_handshake("127.0.0.1", "/ws/trainer", use_awaitable);
  auto send = [&ws](const json& message) -> awaitable<void> {
    const std::string text = message.dump();
    co_await ws.async_write(asio::buffer(text), use_awaitable);
  };
  const json hello = {{"type", "hello"}, {"trainer", "bench-" + std::to_string(client)}, {"credits", 1 << 30}};
  co_await send(hello);
  std::mt19937_64 random(client);
  uint64_t seed = client * 1'000'003;
  auto start = [&](std::size_t n) -> awaitable<void> {
    const json message = {{"type", "start"}, {"env", "alfworld"}, {"seed", seed++}, {"max_steps", 30}, {"n", n}};
    co_await send(message);
  };
  co_await start(concurrent);
  std::map<std::string, Clock::time_point> acting;
  std::set<std::string> live;  // cancelled at the end, so that their slots are free for the next row
  beast::flat_buffer buffer;
  while (Clock::now() < tally.to || !acting.empty()) {
    buffer.clear();
    co_await ws.async_read(buffer, use_awaitable);
    const auto received = Clock::now();
    const json message = json::parse(beast::buffers_to_string(buffer.data()));
    const std::string type = message["type"];
    if (type == "trajectory") {
      const json ack = {{"type", "ack"}, {"seq", message["seq"]}};
      co_await send(ack);
      if (tally.Counts(received)) ++tally.episodes;
      if (received < tally.to) co_await start(1);
      continue;
    }
    if (type == "error") throw std::runtime_error("trainer stream: " + message.dump());
    if (type != "obs") continue;
    const std::string id = message["episode"];
    live.insert(id);
    if (const auto it = acting.find(id); it != acting.end()) {
      tally.Record(it->second, received);  // its episode is counted when the trajectory comes
      acting.erase(it);
    }
    if (message["terminated"].get<bool>() || message["truncated"].get<bool>()) {
      live.erase(id);
      continue;
    }
    if (received >= tally.to) continue;
    const json act = {{"type", "act"},
                      {"episode", id},
                      {"step", message["step"].get<uint64_t>() + 1},
                      {"action", PickAdmissible(message["info"], random)},
                      {"policy_version", 0}};
    acting[id] = Clock::now();
    co_await send(act);
  }
  for (const std::string& id : live) {
    const json cancel = {{"type", "cancel"}, {"episode", id}};
    co_await send(cancel);
  }
  co_await ws.async_close(websocket::close_code::normal, use_awaitable);
}

// The ROCK GEM API: make, reset, step until the end, again.
awaitable<void> PlayGem(uint16_t port, uint64_t client, StepTally& tally) {
  Connection c(co_await asio::this_coro::executor);
  co_await c.Connect(port);
  const json make = {{"env_id", "alfworld"}, {"max_steps", 30}};
  const Reply made = Expect(co_await c.Call(http::verb::post, "/apis/v1/envs/gem/make", make), 200, "gem make");
  const json handle = {{"sandbox_id", made.body["sandbox_id"]}};
  std::mt19937_64 random(client);
  for (uint64_t seed = client; Clock::now() < tally.to; ++seed) {
    json reset = handle;
    reset["seed"] = seed;
    json info = Expect(co_await c.Call(http::verb::post, "/apis/v1/envs/gem/reset", reset), 200, "gem reset").body["info"];
    for (bool ended = false; !ended && Clock::now() < tally.to;) {
      json step = handle;
      step["action"] = PickAdmissible(info, random);
      const auto began = Clock::now();
      const Reply answer = Expect(co_await c.Call(http::verb::post, "/apis/v1/envs/gem/step", step), 200, "gem step");
      ended = answer.body["terminated"].get<bool>() || answer.body["truncated"].get<bool>();
      tally.Record(began, Clock::now(), ended);
      info = answer.body["info"];
    }
  }
  Expect(co_await c.Call(http::verb::post, "/apis/v1/envs/gem/close", handle), 200, "gem close");
}

// The Python client of bench/ws_step_rtt.py (Debian's python3-websockets), one episode at a time;
// it prints the row's figures as JSON.
std::string PythonStreamRow(uint16_t port, std::chrono::seconds window) {
  const std::string command = fmt::format("/usr/bin/python3 {}/bench/ws_step_rtt.py --url ws://127.0.0.1:{}/ws/trainer "
                                          "--seconds {}",
                                          ROCK_SOURCE_DIR, port, window.count());
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("popen(" + command + ") failed");
  std::string out;
  char chunk[4096];
  while (std::fgets(chunk, sizeof(chunk), pipe.get()) != nullptr) out += chunk;
  const json row = json::parse(out, nullptr, false);
  if (row.is_discarded()) throw std::runtime_error(command + " printed " + out);
  return fmt::format("| /ws/trainer act → obs (Python client) | 1 | {:.0f} | {:.0f} | {:.0f} | {:.0f} |\n",
                     row["steps_per_s"].get<double>(), row["episodes_per_s"].get<double>(), row["p50_us"].get<double>(),
                     row["p99_us"].get<double>());
}

// ---- sleepy: scheduling on heavy-tailed envs ----

// 5 to 15 steps, each a pareto(x_m = 2 ms, alpha = 1.5) sleep capped at 500 ms: mean 6 ms, and
// about one step in 40 sleeps over 23 ms.
json SleepyTask(std::mt19937_64& random) {
  return {{"steps", 5 + random() % 11}, {"distribution", "pareto"}, {"scale_ms", 2}, {"shape", 1.5}, {"cap_ms", 500}};
}

struct EpisodeTally {
  Clock::time_point deadline;
  uint64_t finished = 0;  // useful episodes ended by the deadline
  uint64_t cancelled = 0;  // redundant ones
  std::vector<double> group_ms;  // start of a group to its n-th finished episode
  uint64_t groups = 0;
};

// An episode already started; steps it with distinct random actions until it ends (true), is
// cancelled as redundant (false) or the deadline passes (deleted, false).
awaitable<bool> StepToEnd(Connection& c, const std::string& id, std::mt19937_64& random, EpisodeTally& tally) {
  while (true) {
    if (Clock::now() >= tally.deadline) {
      co_await c.Call(http::verb::delete_, "/api/v1/episodes/" + id);  // 409 when already cancelled
      co_return false;
    }
    const json body = {{"action", "try " + std::to_string(random() % 1'000'000)}};
    const Reply step = co_await c.Call(http::verb::post, "/api/v1/episodes/" + id + "/step", body);
    if (step.status == 409 && step.body["error"]["code"] == "aborted") {
      ++tally.cancelled;
      co_return false;
    }
    Expect(step, 200, "step " + id);
    if (step.body["terminated"].get<bool>() || step.body["truncated"].get<bool>()) {
      const bool in_time = Clock::now() <= tally.deadline;
      tally.finished += in_time;
      co_return in_time;
    }
  }
}

// Queue scheduling: each client runs its episodes back to back, never waiting for another.
awaitable<void> QueueClient(uint16_t port, uint64_t client, EpisodeTally& tally) {
  Connection c(co_await asio::this_coro::executor);
  co_await c.Connect(port);
  std::mt19937_64 random(client);
  while (Clock::now() < tally.deadline) {
    const json start = {{"env", "sleepy"}, {"task", SleepyTask(random)}, {"seed", random() >> 1}};
    const Reply started = Expect(co_await c.Call(http::verb::post, "/api/v1/episodes", start), 201, "start");
    co_await StepToEnd(c, started.body["id"], random, tally);
  }
}

// Groups through POST /api/v1/groups: n members of one task and seed (+ redundant ones), each
// stepped on its own; the next group starts once this one has n finished.
awaitable<void> GroupClient(uint16_t port, uint64_t client, uint32_t redundancy, EpisodeTally& tally) {
  auto executor = co_await asio::this_coro::executor;
  std::vector<std::unique_ptr<Connection>> members;
  for (uint32_t i = 0; i < kGroupSize + redundancy; ++i) {
    members.push_back(std::make_unique<Connection>(executor));
    co_await members.back()->Connect(port);
  }
  std::mt19937_64 random(client);
  while (Clock::now() < tally.deadline) {
    const auto began = Clock::now();
    const json start = {{"env", "sleepy"},
                        {"task", SleepyTask(random)},
                        {"seed", random() >> 1},
                        {"n", kGroupSize},
                        {"redundancy", redundancy}};
    const Reply group = Expect(co_await members[0]->Call(http::verb::post, "/api/v1/groups", start), 201, "start group");
    const json& started = group.body["episodes"];
    uint32_t finished = 0;
    Clock::time_point nth;
    co_await All(started.size(), [&](std::size_t i) -> awaitable<void> {
      std::mt19937_64 own(random() + i);
      if (!started[i].contains("id")) throw std::runtime_error("group member failed: " + started[i].dump());
      if (co_await StepToEnd(*members[i], started[i]["id"], own, tally) && ++finished == kGroupSize) nth = Clock::now();
    });
    if (finished < kGroupSize) continue;  // the deadline cut it
    ++tally.groups;
    tally.group_ms.push_back(std::chrono::duration<double, std::milli>(nth - began).count());
  }
}

// The synchronous batch loop: all slots start together and step in lockstep, each round waiting
// for every env's answer; the next batch starts when the whole batch has ended. Its episodes are
// groups of kGroupSize too, so its groups/s compares with the grouped modes.
awaitable<void> SyncBatches(uint16_t port, EpisodeTally& tally) {
  auto executor = co_await asio::this_coro::executor;
  std::vector<std::unique_ptr<Connection>> slots;
  for (uint32_t i = 0; i < kSleepySlots; ++i) {
    slots.push_back(std::make_unique<Connection>(executor));
    co_await slots.back()->Connect(port);
  }
  std::mt19937_64 random(7);
  while (Clock::now() < tally.deadline) {
    const auto began = Clock::now();
    std::vector<std::string> ids(kSleepySlots);
    std::vector<json> tasks;
    std::vector<uint64_t> seeds;
    for (uint32_t g = 0; g < kSleepySlots / kGroupSize; ++g) {
      tasks.push_back(SleepyTask(random));
      seeds.push_back(random() >> 1);
    }
    co_await All(kSleepySlots, [&](std::size_t i) -> awaitable<void> {
      const json start = {{"env", "sleepy"}, {"task", tasks[i / kGroupSize]}, {"seed", seeds[i / kGroupSize]}};
      const Reply started = Expect(co_await slots[i]->Call(http::verb::post, "/api/v1/episodes", start), 201, "start");
      ids[i] = started.body["id"];
    });
    std::vector<bool> live(kSleepySlots, true);
    std::vector<Clock::time_point> ended(kSleepySlots);
    for (std::size_t left = kSleepySlots; left > 0 && Clock::now() < tally.deadline;) {
      co_await All(kSleepySlots, [&](std::size_t i) -> awaitable<void> {
        if (!live[i]) co_return;
        const json body = {{"action", "try " + std::to_string(random() % 1'000'000)}};
        const Reply step =
            Expect(co_await slots[i]->Call(http::verb::post, "/api/v1/episodes/" + ids[i] + "/step", body), 200, "step " + ids[i]);
        if (!step.body["terminated"].get<bool>() && !step.body["truncated"].get<bool>()) co_return;
        live[i] = false;
        ended[i] = Clock::now();
        --left;
      });
    }
    for (uint32_t i = 0; i < kSleepySlots; ++i) {
      if (live[i]) {
        co_await slots[i]->Call(http::verb::delete_, "/api/v1/episodes/" + ids[i]);
      } else if (ended[i] <= tally.deadline) {
        ++tally.finished;
      }
    }
    for (uint32_t g = 0; g < kSleepySlots / kGroupSize; ++g) {
      const auto first = live.begin() + g * kGroupSize;
      if (std::any_of(first, first + kGroupSize, [](bool l) { return l; })) continue;
      const auto last = *std::max_element(ended.begin() + g * kGroupSize, ended.begin() + (g + 1) * kGroupSize);
      if (last > tally.deadline) continue;
      ++tally.groups;
      tally.group_ms.push_back(std::chrono::duration<double, std::milli>(last - began).count());
    }
  }
}

struct SleepyResult {
  std::string mode;
  EpisodeTally tally;
};

std::string SleepyRows(const std::vector<SleepyResult>& results, std::chrono::seconds window) {
  const double seconds = static_cast<double>(window.count());
  const double sync = static_cast<double>(results.front().tally.finished) / seconds;
  std::string rows;
  for (const auto& [mode, t] : results) {
    const double eps = static_cast<double>(t.finished) / seconds;
    const std::string groups = t.groups == 0 ? "–" : fmt::format("{:.1f}", static_cast<double>(t.groups) / seconds);
    const std::string p50 = t.group_ms.empty() ? "–" : fmt::format("{:.0f}", Percentile(t.group_ms, 0.5));
    const std::string p99 = t.group_ms.empty() ? "–" : fmt::format("{:.0f}", Percentile(t.group_ms, 0.99));
    rows += fmt::format("| {} | {:.0f} | {:.2f}× | {} | {} / {} | {} |\n", mode, eps, eps / sync, groups, p50, p99,
                        t.cancelled);
  }
  return rows;
}

int Main(int argc, char** argv) {
  auto window = std::chrono::seconds(5);
  uint32_t http_threads = 2;  // rockd's default
  bool stream_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      window = std::chrono::seconds(std::max(1, std::atoi(argv[++i])));
    } else if (arg == "--http-threads" && i + 1 < argc) {
      http_threads = static_cast<uint32_t>(std::clamp(std::atoi(argv[++i]), 1, 64));
    } else if (arg == "--stream-only") {
      stream_only = true;
    } else {
      std::fprintf(stderr, "usage: %s [--seconds N] [--http-threads N] [--stream-only]\n", argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "episode_bench needs root: pool sandboxes use namespaces and cgroups\n");
    return 1;
  }
  auto rockd = rock::test::RockdProcess::Start({.config_json = BenchConfig(http_threads)});
  if (rockd == nullptr) return 1;
  const uint16_t port = rockd->port();
  if (!rock::test::Eventually([&] { return rock::test::Http(port, "GET", "/readyz").status == 200; },
                              std::chrono::seconds(60))) {
    std::fprintf(stderr, "the pools never reached their minimum:\n%s\n", rockd->Log().c_str());
    return 1;
  }
  asio::io_context io;
  std::string stream;
  stream += StepRow(io, "/ws/trainer act → obs (C++ client)", 1, 1, window,
                    [&](std::size_t client, StepTally& t) { return StreamTrainer(port, client, 1, t); });
  stream += PythonStreamRow(port, window);
  stream += StepRow(io, "GEM HTTP step", 1, 1, window,
                    [&](std::size_t client, StepTally& t) { return PlayGem(port, client, t); });
  // 1,024 episodes in flight: 16 trainer connections of 64 episodes each.
  CpuSplit cpu{.rockd = rockd->pid()};
  stream += StepRow(
      io, "/ws/trainer act → obs (C++ client)", 1024, 16, window,
      [&](std::size_t client, StepTally& t) { return StreamTrainer(port, client, 64, t); }, &cpu);
  const std::string stream_table =
      "The same ALFWorld steps over the trainer stream and the GEM API (the 1,024 row: 16 trainer connections of 64 "
      "episodes):\n\n| request | concurrent | per s | episodes/s | p50 µs | p99 µs |\n|---|---|---|---|---|---|\n" +
      stream + "\n" + cpu.Line() + "\n\n";
  if (stream_only) {
    std::printf("%s", stream_table.c_str());
    return rockd->Stop(SIGTERM) == 0 ? 0 : 1;
  }

  std::string alfworld;
  for (std::size_t concurrent : {1, 64}) {
    alfworld += StepRow(io, "GET /healthz (floor)", concurrent, concurrent, window,
                        [&](std::size_t, StepTally& t) { return PollHealthz(port, t); });
  }
  for (std::size_t concurrent : {1, 64, 1024}) {
    alfworld += StepRow(io, "ALFWorld step", concurrent, concurrent, window,
                        [&](std::size_t client, StepTally& t) { return PlayAlfworld(port, client, t); });
  }

  std::vector<SleepyResult> sleepy;
  auto measure = [&](std::string mode, const std::function<awaitable<void>(EpisodeTally&)>& work) {
    SleepyResult result{std::move(mode), {}};
    result.tally.deadline = Clock::now() + window;
    Run(io, work(result.tally));
    std::fprintf(stderr, "sleepy %s: %lu episodes\n", result.mode.c_str(), static_cast<unsigned long>(result.tally.finished));
    sleepy.push_back(std::move(result));
  };
  measure(fmt::format("synchronous batch loop ({} in lockstep)", kSleepySlots),
          [&](EpisodeTally& t) { return SyncBatches(port, t); });
  measure(fmt::format("queue scheduling ({} independent)", kSleepySlots), [&](EpisodeTally& t) {
    return All(kSleepySlots, [&](std::size_t i) { return QueueClient(port, i + 1, t); });
  });
  measure(fmt::format("queue scheduling, groups of {} ({} at a time)", kGroupSize, kSleepySlots / kGroupSize),
          [&](EpisodeTally& t) {
            return All(kSleepySlots / kGroupSize, [&](std::size_t i) { return GroupClient(port, i + 1, 0, t); });
          });
  const uint32_t redundant_groups = kSleepySlots / (kGroupSize + kRedundancy);
  measure(fmt::format("queue scheduling + redundancy, groups of {} + {} ({} at a time)", kGroupSize, kRedundancy,
                      redundant_groups),
          [&](EpisodeTally& t) {
            return All(redundant_groups, [&](std::size_t i) { return GroupClient(port, i + 1, kRedundancy, t); });
          });

  std::printf("ALFWorld, random admissible actions, max_steps 30, %ld s per row after 1 s of warm-up; pool of 4 "
              "sandboxes x %u slots:\n\n",
              static_cast<long>(window.count()), kAlfworldSlots);
  std::printf("| request | concurrent | per s | episodes/s | p50 µs | p99 µs |\n|---|---|---|---|---|---|\n%s\n",
              alfworld.c_str());
  std::printf("%s", stream_table.c_str());
  std::printf("`sleepy` env, %u one-slot sandboxes, 5-15 steps per episode, pareto(2 ms, 1.5) sleeps capped at 500 ms, "
              "%ld s per row; useful episodes are those finished (redundant cancellations not counted):\n\n",
              kSleepySlots, static_cast<long>(window.count()));
  std::printf("| mode | episodes/s | vs sync | groups/s | group ms p50 / p99 | cancelled |\n|---|---|---|---|---|---|\n%s",
              SleepyRows(sleepy, window).c_str());
  return rockd->Stop(SIGTERM) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "episode_bench: %s\n", e.what());
    return 1;
  }
}
