// The trainer-stream client: one I/O thread runs an io_context with one connection at a time, a
// callback chain per connection (resolve → connect → handshake → hello → read loop), and a
// backoff timer between connections. Every piece of protocol state below lives on that thread;
// the public methods encode their message on the caller's thread and post it there.
//
// The two invariants that make reconnects invisible to the application:
// - Credits: rockd's credits left on the connection + trajectories in flight to us + handed-over
//   unacked ones + credits owed back (`refund_`) == options.credits. hello grants the window
//   minus what the application holds; every duplicate and every ack gives its credit back.
// - Acts: an act rockd may not have received (written on an earlier connection) is sent again
//   exactly when rockd, after welcome, resends the obs that asked for it.
// - Starts: hello names this client's session; the welcome says the highest start req rockd
//   received in it (`last_req`), and every unanswered start above it is sent again. A rockd
//   that is a new process (another `boot_id`) knows no session: every unanswered start goes
//   again, and the episodes that were running on the old one are reported lost once its
//   backlog of trajectories has arrived (an episode that ended there comes as a trajectory).
#include "trainer-client/client/trainer_client.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "common/random_id.h"

namespace rock::trainer {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using nlohmann::json;
using tcp = asio::ip::tcp;

constexpr std::size_t kReadMessageMax = std::size_t{64} << 20;  // one trajectory frame
constexpr int kMaxCredits = 1 << 30;                            // rockd's bound on credits
// With no frame for this long the connection counts as dead; a WebSocket ping goes out at half
// of it, which also keeps rockd's own idle timeout from closing a quiet trainer.
constexpr auto kIdleTimeout = std::chrono::seconds(20);
constexpr auto kCloseTimeout = std::chrono::seconds(1);  // Close's WebSocket closing handshake
// Ended episodes remembered so that a late resend of their last obs is swallowed.
constexpr std::size_t kEndedEpisodesKept = 16384;

// One outgoing WebSocket message, already encoded.
struct Frame {
  std::string data;
  bool binary = false;
  bool control = false;  // hello, ack, credit: rebuilt from state for every connection, never requeued
  std::string episode;   // an act's episode
  uint64_t act_step = 0;
  uint64_t start_req = 0;  // a start's req
};

struct PendingAct {
  uint64_t step = 0;
  Frame frame;
  uint64_t sent_on = 0;  // the connection it was queued for writing on; 0 while it waits for one
};

struct EpisodeState {
  std::optional<uint64_t> last_step;  // the highest step handed to the application
  std::optional<PendingAct> act;      // the last act not yet answered by an obs
};

// One WebSocket connection attempt and, once welcomed, its session.
struct Connection {
  Connection(asio::io_context& io, uint64_t connection_id) : id(connection_id), ws(io) {}
  const uint64_t id;
  websocket::stream<beast::tcp_stream> ws;
  websocket::response_type response;  // of the upgrade, for an HTTP status when it is refused
  beast::flat_buffer buffer;
  std::deque<Frame> wire;  // to write; the front is being written while `writing`
  bool writing = false;
  bool open = false;  // upgraded and not yet given up
  bool welcomed = false;
  uint64_t delivered_seq = 0;  // rockd's highest seq sent on this connection (from welcome.acked_seq)
  uint64_t acked_seq = 0;      // the last ack rockd holds for this connection
  std::string failure;         // set when the client gives the connection up itself
};

std::optional<uint64_t> UnsignedField(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer() && it->get<int64_t>() >= 0) return static_cast<uint64_t>(it->get<int64_t>());
  return std::nullopt;
}

std::optional<std::string> StringField(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool TrueField(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

json ErrorBody(std::string_view code, const std::string& message) {
  return {{"type", "error"}, {"code", code}, {"message", message}};
}

Status CheckOptions(const ClientOptions& o) {
  const bool name_ok = !o.trainer.empty() && o.trainer.size() <= 64 &&
                       std::all_of(o.trainer.begin(), o.trainer.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                                c == '_' || c == '-';
                       });
  if (!name_ok) return InvalidArgument("trainer '" + o.trainer + "': 1 to 64 of A-Z a-z 0-9 . _ -");
  if (o.host.empty()) return InvalidArgument("host is empty");
  if (o.port == 0) return InvalidArgument("port 0: rockd's port is needed");
  if (o.credits < 1 || o.credits > kMaxCredits) {
    return InvalidArgument("credits " + std::to_string(o.credits) + ": must be in [1, 2^30]");
  }
  if (o.backoff_initial.count() <= 0 || o.backoff_max < o.backoff_initial) {
    return InvalidArgument("backoff: need 0 < backoff_initial (" + std::to_string(o.backoff_initial.count()) +
                           " ms) <= backoff_max (" + std::to_string(o.backoff_max.count()) + " ms)");
  }
  if (o.connect_timeout.count() <= 0) return InvalidArgument("connect_timeout must be positive");
  return Status::Ok();
}

}  // namespace

struct TrainerClient::Impl {
  explicit Impl(ClientOptions o)
      : options(std::move(o)),
        app_acked(options.resume_after_seq),
        max_handed(options.resume_after_seq),
        acked_seq(options.resume_after_seq) {}

  // --- any thread ---

  Frame Encode(const json& message, bool control = false) const {
    Frame frame;
    frame.control = control;
    if (options.encoding == Encoding::kMsgpack) {
      const std::vector<uint8_t> bytes = json::to_msgpack(message);
      frame.data.assign(bytes.begin(), bytes.end());
      frame.binary = true;
    } else {
      // Invalid UTF-8 in an application string is replaced, not thrown across the API.
      frame.data = message.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    return frame;
  }

  template <typename F>
  void Post(F&& f) {
    asio::post(io, std::forward<F>(f));
  }

  void Push(Event::Type type, json body) {
    {
      std::lock_guard lock(mu);
      if (closed) return;
      events.push_back(Event{type, std::move(body)});
    }
    cv.notify_one();
  }

  void RunIo() {
    Post([this] { StartAttempt(); });
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception& e) {
        // A handler threw: say so and carry on with the next one.
        Push(Event::Type::kError, ErrorBody("internal", std::string("trainer client I/O thread: ") + e.what()));
      }
    }
  }

  // --- the I/O thread: connections ---

  void StartAttempt() {
    if (closing) return;
    ++attempts;
    auto c = std::make_shared<Connection>(io, ++next_connection);
    current = c;
    beast::error_code ec;
    const asio::ip::address address = asio::ip::make_address(options.host, ec);
    if (!ec) return Connect(c, {tcp::endpoint(address, options.port)});
    resolver.async_resolve(options.host, std::to_string(options.port),
                           [this, c](const beast::error_code& resolve_ec, const tcp::resolver::results_type& results) {
                             if (c != current) return;
                             if (resolve_ec) return Failed(c, "resolve " + options.host + ": " + resolve_ec.message());
                             Connect(c, std::vector<tcp::endpoint>(results.begin(), results.end()));
                           });
  }

  std::string Peer() const { return options.host + ":" + std::to_string(options.port); }

  void Connect(const std::shared_ptr<Connection>& c, const std::vector<tcp::endpoint>& endpoints) {
    auto& stream = beast::get_lowest_layer(c->ws);
    stream.expires_after(options.connect_timeout);
    stream.async_connect(endpoints, [this, c](const beast::error_code& ec, const tcp::endpoint&) {
      if (c != current) return;
      if (ec) return Failed(c, "connect to " + Peer() + ": " + ec.message());
      auto& connected_stream = beast::get_lowest_layer(c->ws);
      beast::error_code option_ec;
      connected_stream.socket().set_option(tcp::no_delay(true), option_ec);
      if (option_ec) return Failed(c, "setsockopt(TCP_NODELAY) on " + Peer() + ": " + option_ec.message());
      // From here the WebSocket's own timeouts apply (Beast wants the TCP one off).
      connected_stream.expires_never();
      websocket::stream_base::timeout timeouts;
      timeouts.handshake_timeout = options.connect_timeout;
      timeouts.idle_timeout = kIdleTimeout;
      timeouts.keep_alive_pings = true;
      c->ws.set_option(timeouts);
      c->ws.set_option(websocket::stream_base::decorator([token = options.token](websocket::request_type& request) {
        request.set(beast::http::field::user_agent, "rock-trainer-client");
        if (!token.empty()) request.set(beast::http::field::authorization, "Bearer " + token);
      }));
      c->ws.read_message_max(kReadMessageMax);
      c->ws.async_handshake(c->response, Peer(), "/ws/trainer", [this, c](const beast::error_code& handshake_ec) {
        if (c != current) return;
        if (handshake_ec) return Refused(c, handshake_ec);
        c->open = true;
        StartSession(c);
      });
    });
  }

  // The upgrade failed; an HTTP answer (a wrong token, most likely) is also an event, as it will
  // not go away by retrying.
  void Refused(const std::shared_ptr<Connection>& c, const beast::error_code& ec) {
    std::string why = "WebSocket upgrade at " + Peer() + "/ws/trainer: " + ec.message();
    // Only a declined upgrade has a status from rockd (Beast presets 500 before reading one).
    if (ec == websocket::error::upgrade_declined) {
      const unsigned status = c->response.result_int();
      why += " (HTTP " + std::to_string(status) + ")";
      const char* code = status == 401 ? "unauthenticated" : status == 403 ? "permission_denied" : "unavailable";
      Push(Event::Type::kError, ErrorBody(code, why + ": " + c->response.body()));
    }
    Failed(c, why);
  }

  void StartSession(const std::shared_ptr<Connection>& c) {
    // The window minus what the application holds; credits owed back so far are part of it.
    refund = 0;
    const int credits = options.credits - static_cast<int>(handed.size());
    json hello = {{"type", "hello"},
                  {"trainer", options.trainer},
                  {"encoding", options.encoding == Encoding::kMsgpack ? "msgpack" : "json"},
                  {"credits", std::max(0, credits)},
                  {"resume", {{"after_seq", app_acked}}},
                  {"session", session}};
    c->wire.push_back(Encode(hello, /*control=*/true));
    PumpWrites(c);
    Read(c);
  }

  void Read(const std::shared_ptr<Connection>& c) {
    c->ws.async_read(c->buffer, [this, c](const beast::error_code& ec, std::size_t) {
      if (c != current) return;
      if (ec) return Failed(c, c->failure.empty() ? "read from " + Peer() + ": " + ec.message() : c->failure);
      const auto data = c->buffer.cdata();
      OnFrame(*c, std::string_view(static_cast<const char*>(data.data()), data.size()), c->ws.got_binary());
      c->buffer.consume(c->buffer.size());
      if (!c->failure.empty()) return Failed(c, c->failure);
      Read(c);
    });
  }

  void PumpWrites(const std::shared_ptr<Connection>& c) {
    if (closing || !c->open || c->writing || c->wire.empty()) return;
    c->writing = true;
    const Frame& frame = c->wire.front();  // deque: stays put while more are pushed behind it
    c->ws.binary(frame.binary);
    c->ws.async_write(asio::buffer(frame.data), [this, c](const beast::error_code& ec, std::size_t) {
      c->writing = false;
      c->wire.pop_front();
      if (!c->open) return;  // given up: the rest was requeued already
      if (ec) {
        // The read fails next, and ends the connection with this reason.
        c->failure = "write to " + Peer() + ": " + ec.message();
        beast::error_code ignored;
        beast::get_lowest_layer(c->ws).socket().close(ignored);
        return;
      }
      PumpWrites(c);
    });
  }

  // The end of connection `c`, whatever the cause: its unwritten messages wait for the next
  // one, and the next attempt follows after a backoff (none once closing).
  void Failed(const std::shared_ptr<Connection>& c, const std::string& why) {
    c->open = false;
    beast::error_code ignored;
    beast::get_lowest_layer(c->ws).socket().close(ignored);
    current.reset();
    // Unwritten application messages go first in line again, in order. The frame being written
    // may or may not have reached rockd: an act or a start among them is covered by its resend
    // rule; a cancel or report is not repeated (at most once).
    std::deque<Frame> unwritten;
    for (std::size_t i = c->writing ? 1 : 0; i < c->wire.size(); ++i) {
      if (!c->wire[i].control) unwritten.push_back(std::move(c->wire[i]));
    }
    c->wire.resize(c->writing ? 1 : 0);
    waiting.insert(waiting.begin(), std::make_move_iterator(unwritten.begin()), std::make_move_iterator(unwritten.end()));
    if (c->welcomed) {
      failures = 0;
      connected = false;
      Push(Event::Type::kDisconnected, {{"message", why}});
    }
    if (closing) {
      close_timer.cancel();
      return;
    }
    const double base = std::min(static_cast<double>(options.backoff_max.count()),
                                 static_cast<double>(options.backoff_initial.count()) * std::pow(2.0, std::min(failures, 30)));
    ++failures;
    // Jittered over [base/2, base], so trainers cut off together do not come back together.
    const double delay_ms = std::uniform_real_distribution<double>(base / 2, base)(random);
    backoff_timer.expires_after(std::chrono::microseconds(static_cast<int64_t>(delay_ms * 1000)));
    backoff_timer.async_wait([this](const beast::error_code& ec) {
      if (!ec) StartAttempt();
    });
  }

  void Shutdown() {
    closing = true;
    backoff_timer.cancel();
    resolver.cancel();
    const std::shared_ptr<Connection> c = current;
    if (c == nullptr) return;
    if (!c->open) {
      beast::error_code ignored;
      beast::get_lowest_layer(c->ws).socket().close(ignored);
      return;
    }
    // A clean close; the read loop ends when rockd answers it, or the timer cuts it short.
    c->ws.async_close(websocket::close_code::normal, [c](const beast::error_code&) {});
    close_timer.expires_after(kCloseTimeout);
    close_timer.async_wait([c](const beast::error_code& ec) {
      if (ec) return;
      beast::error_code ignored;
      beast::get_lowest_layer(c->ws).socket().close(ignored);
    });
  }

  // --- the I/O thread: frames from rockd ---

  void Malformed(const std::string& what) {
    Push(Event::Type::kError, ErrorBody("invalid_argument", "rockd sent a malformed frame: " + what));
  }

  void OnFrame(Connection& c, std::string_view data, bool binary) {
    json message = binary ? json::from_msgpack(data, /*strict=*/true, /*allow_exceptions=*/false)
                          : json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded()) {
      return Malformed(binary ? "a binary frame that is not one MessagePack value" : "a text frame that is not JSON");
    }
    if (!message.is_object()) return Malformed("a message that is not an object");
    const std::optional<std::string> type = StringField(message, "type");
    if (!type) return Malformed("a message without a string 'type'");
    if (*type == "welcome") return OnWelcome(c, std::move(message));
    if (*type == "error") return OnError(c, std::move(message));
    if (*type == "pong") return;
    if (!c.welcomed) return Malformed("'" + *type + "' before welcome");
    if (*type == "obs") return OnObs(c, std::move(message));
    if (*type == "trajectory") return OnTrajectory(c, std::move(message));
    Malformed("unknown message type '" + *type + "'");
  }

  void OnWelcome(Connection& c, json welcome) {
    if (c.welcomed) return Malformed("a second welcome on one connection");
    const std::optional<uint64_t> acked = UnsignedField(welcome, "acked_seq");
    const std::optional<uint64_t> head = UnsignedField(welcome, "head_seq");
    if (!acked || !head) {
      Malformed("welcome without unsigned 'acked_seq' and 'head_seq': " + welcome.dump(-1, ' ', false, json::error_handler_t::replace));
      c.failure = "rockd's welcome was malformed";
      return;
    }
    c.welcomed = true;
    c.delivered_seq = c.acked_seq = *acked;
    // A checkpoint past rockd's newest trajectory counts as that one (docs/protocol.md): seqs
    // above it are new, so nothing above it may be taken for a duplicate.
    if (*head < max_handed && handed.empty()) {
      max_handed = app_acked = *acked;
      acked_seq = app_acked;
    }
    connected = true;
    if (welcomes++ > 0) ++reconnect_count;
    const std::optional<uint64_t> last_req = UnsignedField(welcome, "last_req");
    const std::optional<std::string> boot = StringField(welcome, "boot_id");
    if (boot && !boot_id.empty() && *boot != boot_id) {
      // Whatever ran on the old process and has no trajectory in its backlog is gone.
      suspects.clear();
      for (const auto& [episode, state] : episodes) suspects.insert(episode);
      suspects.insert(awaiting_trajectory.begin(), awaiting_trajectory.end());
      suspects_clear_at = *head;
    }
    if (boot) boot_id = *boot;
    Push(Event::Type::kConnected, std::move(welcome));
    if (last_req) ResendStarts(c, *last_req);
    while (!waiting.empty()) {
      QueueOn(c, std::move(waiting.front()));
      waiting.pop_front();
    }
    ReportLost(c);
    Flush(c);
  }

  // Starts rockd has not received, oldest first, ahead of the messages that waited for this
  // connection (which hold the starts that were never written). One it received stays
  // unanswered until its obs or error comes: should that rockd die first, the next one,
  // knowing no session, gets it again.
  void ResendStarts(Connection& c, uint64_t last_req) {
    std::unordered_set<uint64_t> waiting_reqs;
    for (const Frame& frame : waiting) {
      if (frame.start_req != 0) waiting_reqs.insert(frame.start_req);
    }
    for (auto it = unanswered_starts.upper_bound(last_req); it != unanswered_starts.end(); ++it) {
      const auto& [req, frame] = *it;
      if (waiting_reqs.contains(req)) continue;
      ++starts_resent;
      QueueOn(c, frame);
    }
  }

  // Once the new process has delivered its backlog, a suspect not accounted for is lost.
  void ReportLost(const Connection& c) {
    if (suspects.empty() || c.delivered_seq < suspects_clear_at) return;
    for (const std::string& episode : suspects) {
      if (!episodes.contains(episode) && !awaiting_trajectory.contains(episode)) continue;
      awaiting_trajectory.erase(episode);
      Forget(episode);
      ++episodes_lost;
      Push(Event::Type::kError,
           {{"type", "error"},
            {"code", "episode_lost"},
            {"episode", episode},
            {"message", "rockd restarted while the episode ran; it ended there without a trajectory"}});
    }
    suspects.clear();
  }

  void OnObs(Connection& c, json obs) {
    const std::optional<std::string> episode = StringField(obs, "episode");
    const std::optional<uint64_t> step = UnsignedField(obs, "step");
    if (!episode || !step) return Malformed("obs without a string 'episode' and an unsigned 'step'");
    if (ended.contains(*episode)) return;
    EpisodeState& e = episodes[*episode];
    if (e.last_step && *step <= *e.last_step) {
      // Seen already: rockd resends the last obs of every waiting episode after welcome. When
      // the act it asked for went out on an earlier connection, that act never reached rockd.
      if (e.act && e.act->step == *step + 1 && e.act->sent_on != c.id) {
        ++acts_resent;
        QueueOn(c, e.act->frame);
      }
      return;
    }
    if (e.act && e.act->step <= *step) e.act.reset();
    e.last_step = *step;
    if (const std::optional<uint64_t> req = UnsignedField(obs, "req"); req && *step == 0) unanswered_starts.erase(*req);
    if (TrueField(obs, "terminated") || TrueField(obs, "truncated")) {
      Forget(*episode);
      awaiting_trajectory.insert(*episode);
    }
    Push(Event::Type::kObs, std::move(obs));
  }

  void OnTrajectory(Connection& c, json trajectory) {
    const std::optional<uint64_t> seq = UnsignedField(trajectory, "seq");
    if (!seq) {
      // It took a credit all the same.
      ++refund;
      ScheduleFlush();
      return Malformed("trajectory without an unsigned 'seq'");
    }
    c.delivered_seq = std::max(c.delivered_seq, *seq);
    if (app_acked > c.acked_seq) ScheduleFlush();  // an ack held back for this delivery can go now
    if (*seq <= max_handed) {
      // A redelivery of one the application has: its credit goes back at once.
      ++refund;
      ScheduleFlush();
      return;
    }
    max_handed = *seq;
    handed.push_back(*seq);
    if (const std::optional<std::string> episode = StringField(trajectory, "episode")) {
      HandOverMissedObs(*episode, trajectory);
      Forget(*episode);
      awaiting_trajectory.erase(*episode);
    }
    Push(Event::Type::kTrajectory, std::move(trajectory));
    ReportLost(c);
  }

  // The last obs of an episode can be lost with a connection after rockd ended the episode,
  // which it then never resends: it is rebuilt from the trajectory's steps (without `info`,
  // which a trajectory does not keep) so that the application still sees every obs, in order.
  void HandOverMissedObs(const std::string& episode, const json& trajectory) {
    const auto it = episodes.find(episode);
    const auto steps = trajectory.find("steps");
    if (it == episodes.end() || !it->second.last_step || steps == trajectory.end() || !steps->is_array()) return;
    for (const json& step : *steps) {
      const std::optional<uint64_t> number = step.is_object() ? UnsignedField(step, "step") : std::nullopt;
      if (!number || *number <= *it->second.last_step) continue;
      it->second.last_step = *number;
      ++obs_rebuilt;
      Push(Event::Type::kObs, {{"type", "obs"},
                               {"episode", episode},
                               {"step", *number},
                               {"observation", step.value("observation", json())},
                               {"reward", step.value("reward", json(0))},
                               {"terminated", TrueField(step, "terminated")},
                               {"truncated", TrueField(step, "truncated")},
                               {"info", json::object()},
                               {"group", trajectory.value("group", json())},
                               {"from_trajectory", true}});
    }
  }

  void OnError(Connection& c, json error) {
    if (!c.welcomed) {
      // hello itself was refused (a bad name, too many trainers): try again after a backoff.
      c.failure = "rockd refused hello: " + error.dump(-1, ' ', false, json::error_handler_t::replace);
    } else if (const std::optional<uint64_t> req = UnsignedField(error, "req")) {
      unanswered_starts.erase(*req);
    } else if (const std::optional<std::string> episode = StringField(error, "episode")) {
      // A refused act is not answered; it is not sent again either. An episode rockd does not
      // know (it was running when rockd was killed) will never say more.
      if (StringField(error, "code") == "not_found") {
        if (!suspects.contains(*episode)) Forget(*episode);  // else ReportLost says it once
      } else if (const auto it = episodes.find(*episode); it != episodes.end()) {
        it->second.act.reset();
      }
    }
    Push(Event::Type::kError, std::move(error));
  }

  void Forget(const std::string& episode) {
    episodes.erase(episode);
    if (!ended.insert(episode).second) return;
    ended_order.push_back(episode);
    if (ended_order.size() > kEndedEpisodesKept) {
      ended.erase(ended_order.front());
      ended_order.pop_front();
    }
  }

  // --- the I/O thread: messages to rockd ---

  void QueueOn(Connection& c, Frame frame) {
    if (!frame.episode.empty()) {
      // An act for an episode of a rockd that has since restarted (see OnWelcome), whether it
      // waited for this connection or came after: the new process never ran that episode and
      // would answer not_found; it comes back as a trajectory of the backlog or is reported lost.
      if (suspects.contains(frame.episode)) return;
      const auto it = episodes.find(frame.episode);
      if (it != episodes.end() && it->second.act && it->second.act->step == frame.act_step) it->second.act->sent_on = c.id;
    }
    c.wire.push_back(std::move(frame));
    if (current.get() == &c) PumpWrites(current);
  }

  // An application message: on the wire when welcomed, else first in line for the next welcome.
  void Send(Frame frame) {
    if (frame.start_req != 0) unanswered_starts.emplace(frame.start_req, frame);
    if (current != nullptr && current->welcomed) return QueueOn(*current, std::move(frame));
    waiting.push_back(std::move(frame));
  }

  void OnAct(std::string episode, uint64_t step, Frame frame) {
    frame.episode = episode;
    frame.act_step = step;
    if (!ended.contains(episode)) episodes[episode].act = PendingAct{step, frame, 0};
    Send(std::move(frame));
  }

  void OnAck(uint64_t seq) {
    seq = std::min(seq, max_handed);  // only what was handed over can be processed
    if (seq <= app_acked) return;
    app_acked = seq;
    acked_seq = seq;
    while (!handed.empty() && handed.front() <= seq) {
      handed.pop_front();
      ++refund;
    }
    ScheduleFlush();
  }

  void OnRelease(uint64_t seq) {
    const auto it = std::lower_bound(handed.begin(), handed.end(), seq);
    if (it == handed.end() || *it != seq) return;
    handed.erase(it);
    ++refund;
    ScheduleFlush();
  }

  // Acks and credits of one I/O turn go out together, at the end of it.
  void ScheduleFlush() {
    if (flush_posted) return;
    flush_posted = true;
    Post([this] {
      flush_posted = false;
      if (current != nullptr) Flush(*current);
    });
  }

  // Before welcome there is nothing to do: the next hello carries the ack and the window.
  void Flush(Connection& c) {
    if (!c.welcomed) return;
    // rockd refuses an ack above what it sent on this connection; the rest follows the
    // redelivery.
    const uint64_t through = std::min(app_acked, c.delivered_seq);
    if (through > c.acked_seq) {
      c.acked_seq = through;
      QueueOn(c, Encode({{"type", "ack"}, {"seq", through}}, /*control=*/true));
    }
    if (refund > 0) {
      QueueOn(c, Encode({{"type", "credit"}, {"n", refund}}, /*control=*/true));
      refund = 0;
    }
  }

  const ClientOptions options;
  asio::io_context io;  // first: destroyed last, after everything that uses it
  asio::steady_timer backoff_timer{io};
  asio::steady_timer close_timer{io};
  tcp::resolver resolver{io};
  std::mt19937_64 random{std::random_device{}()};
  std::thread thread;
  std::once_flag close_once;

  // The I/O thread's.
  std::shared_ptr<Connection> current;
  uint64_t next_connection = 0;
  int failures = 0;  // attempts since the last welcome, for the backoff
  bool closing = false;
  std::deque<Frame> waiting;
  uint64_t app_acked;   // the application's cumulative ack
  uint64_t max_handed;  // the highest seq handed over (or resumed after)
  std::deque<uint64_t> handed;  // handed over, not yet acked, increasing
  int refund = 0;               // credits owed back to rockd
  bool flush_posted = false;
  std::unordered_map<std::string, EpisodeState> episodes;
  std::unordered_set<std::string> ended;
  std::deque<std::string> ended_order;
  int welcomes = 0;
  const std::string session = NewRandomId("session");
  std::string boot_id;                            // of the rockd process of the last welcome
  std::map<uint64_t, Frame> unanswered_starts;    // by req: no obs or error for it yet
  std::unordered_set<std::string> awaiting_trajectory;  // ended by an obs, no trajectory yet
  std::unordered_set<std::string> suspects;  // in flight when rockd restarted
  uint64_t suspects_clear_at = 0;     // the new process's head_seq: its backlog ends there

  // Read from any thread.
  std::atomic<bool> connected{false};
  std::atomic<uint64_t> acked_seq;
  std::atomic<int> reconnect_count{0};
  std::atomic<int> attempts{0};
  std::atomic<int> acts_resent{0};
  std::atomic<int> obs_rebuilt{0};
  std::atomic<int> starts_resent{0};
  std::atomic<int> episodes_lost{0};
  std::atomic<uint64_t> next_req{0};

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> events;
  bool closed = false;
};

StatusOr<std::unique_ptr<TrainerClient>> TrainerClient::Create(ClientOptions options) {
  if (Status s = CheckOptions(options); !s.ok()) return s.WithContext("trainer client options");
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl* raw = impl.get();
  std::unique_ptr<TrainerClient> client(new TrainerClient(std::move(impl)));
  raw->thread = std::thread([raw] { raw->RunIo(); });
  return client;
}

TrainerClient::TrainerClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TrainerClient::~TrainerClient() { Close(); }

std::optional<Event> TrainerClient::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, timeout, [&] { return impl_->closed || !impl_->events.empty(); });
  if (impl_->closed || impl_->events.empty()) return std::nullopt;
  Event event = std::move(impl_->events.front());
  impl_->events.pop_front();
  return event;
}

uint64_t TrainerClient::Start(const StartRequest& request) {
  const uint64_t req = ++impl_->next_req;
  json start = {{"type", "start"},
                {"req", req},
                {"env", request.env},
                {"task", request.task},
                {"n", request.n},
                {"redundancy", request.redundancy},
                {"policy_version", request.policy_version}};
  if (request.seed) start["seed"] = *request.seed;
  if (request.max_steps) start["max_steps"] = *request.max_steps;
  if (!request.group.empty()) start["group"] = request.group;
  Frame frame = impl_->Encode(start);
  frame.start_req = req;
  impl_->Post([impl = impl_.get(), frame = std::move(frame)]() mutable { impl->Send(std::move(frame)); });
  return req;
}

void TrainerClient::Act(const std::string& episode, int step, const std::string& action, int64_t policy_version,
                        const std::vector<float>& logprobs) {
  json act = {{"type", "act"}, {"episode", episode}, {"step", step}, {"action", action}, {"policy_version", policy_version}};
  if (!logprobs.empty()) {
    json values = json::array();
    for (const float v : logprobs) values.push_back(static_cast<double>(v));
    act["logprobs"] = std::move(values);
  }
  const uint64_t act_step = step < 0 ? 0 : static_cast<uint64_t>(step);
  impl_->Post([impl = impl_.get(), episode, act_step, frame = impl_->Encode(act)]() mutable {
    impl->OnAct(std::move(episode), act_step, std::move(frame));
  });
}

void TrainerClient::Cancel(const std::string& episode) {
  impl_->Post([impl = impl_.get(), frame = impl_->Encode({{"type", "cancel"}, {"episode", episode}})]() mutable {
    impl->Send(std::move(frame));
  });
}

void TrainerClient::Ack(uint64_t seq) {
  impl_->Post([impl = impl_.get(), seq] { impl->OnAck(seq); });
}

void TrainerClient::Release(uint64_t seq) {
  impl_->Post([impl = impl_.get(), seq] { impl->OnRelease(seq); });
}

void TrainerClient::Report(const nlohmann::json& metrics) {
  impl_->Post([impl = impl_.get(), frame = impl_->Encode({{"type", "report"}, {"metrics", metrics}})]() mutable {
    impl->Send(std::move(frame));
  });
}

bool TrainerClient::connected() const { return impl_->connected; }
uint64_t TrainerClient::acked_seq() const { return impl_->acked_seq; }
int TrainerClient::reconnects() const { return impl_->reconnect_count; }
int TrainerClient::connect_attempts() const { return impl_->attempts; }
int TrainerClient::acts_resent() const { return impl_->acts_resent; }
int TrainerClient::obs_rebuilt() const { return impl_->obs_rebuilt; }
int TrainerClient::starts_resent() const { return impl_->starts_resent; }
int TrainerClient::episodes_lost() const { return impl_->episodes_lost; }

void TrainerClient::Close() {
  std::call_once(impl_->close_once, [this] {
    {
      std::lock_guard lock(impl_->mu);
      impl_->closed = true;
      impl_->events.clear();
    }
    impl_->cv.notify_all();
    impl_->Post([impl = impl_.get()] { impl->Shutdown(); });
    if (impl_->thread.joinable()) impl_->thread.join();
  });
}

}  // namespace rock::trainer
