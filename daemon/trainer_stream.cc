#include "daemon/trainer_stream.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "balancer/balancer.h"
#include "common/random_id.h"
#include "common/wall_clock.h"
#include "daemon/episode_routes.h"
#include "daemon/event_bus.h"
#include "daemon/metrics.h"
#include "daemon/raw_json.h"
#include "daemon/request_fields.h"
#include "daemon/store.h"

namespace rock {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Committed trajectories kept in memory per trainer waiting for credit; beyond this they wait in
// SQLite only, so a trainer that grants no credit costs rockd no memory.
constexpr std::size_t kReadyMax = 256;
// Start errors kept per trainer while it has no connection. Starts are bounded by
// stream.max_episodes_per_trainer, so only a trainer that stays away long meets this.
constexpr std::size_t kMaxUnsentStartErrors = 4096;
constexpr uint64_t kMaxCredits = uint64_t{1} << 30;
constexpr uint64_t kMaxSeq = (uint64_t{1} << 63) - 1;
constexpr uint64_t kMaxPolicyVersion = uint64_t{1} << 53;  // exact in every client's doubles
// Reports kept in trainer_reports, of all trainers together (GET /api/v1/trainer-reports).
constexpr int64_t kMaxStoredReports = 100'000;

enum class Encoding { kJson, kMsgpack };

StatusOr<json> Decode(std::string_view frame, bool binary) {
  json message = binary ? json::from_msgpack(frame, /*strict=*/true, /*allow_exceptions=*/false)
                        : json::parse(frame, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    return InvalidArgument(binary ? "a binary frame must be one MessagePack object" : "a text frame must be JSON");
  }
  if (!message.is_object()) return InvalidArgument("a message must be an object");
  const auto type = message.find("type");
  if (type == message.end() || !type->is_string()) return InvalidArgument("'type' is required and must be a string");
  return message;
}

Status CheckTrainerName(const json& hello, std::string* name) {
  const auto it = hello.find("trainer");
  const std::string value = it != hello.end() && it->is_string() ? it->get<std::string>() : "";
  const bool valid = !value.empty() && value.size() <= 64 && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
  if (!valid) return InvalidArgument("'trainer' is required: 1 to 64 of A-Z a-z 0-9 . _ -");
  *name = value;
  return Status::Ok();
}

// The trajectory status of an ended episode (docs/protocol.md).
std::string TrajectoryStatus(const balancer::EpisodeSummary& e) {
  switch (e.state) {
    case balancer::EpisodeState::kFinished: return e.end_reason == "terminated" ? "terminated" : "truncated";
    case balancer::EpisodeState::kCancelled:
      return e.end_reason == "redundant" || e.end_reason == "expired" ? e.end_reason : "cancelled";
    default: return "failed";
  }
}

// `logprobs` of an act: a number or an array of numbers, kept as sent.
Status CheckLogprobs(const json& act) {
  const auto it = act.find("logprobs");
  if (it == act.end() || it->is_null() || it->is_number()) return Status::Ok();
  if (it->is_array() && std::all_of(it->begin(), it->end(), [](const json& v) { return v.is_number(); })) {
    return Status::Ok();
  }
  return InvalidArgument("'logprobs' must be a number or an array of numbers");
}

// The `episode` field when it is a string; empty otherwise.
std::string EpisodeField(const json& message) {
  const auto it = message.find("episode");
  return it != message.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

class TrainerHub::Impl : public std::enable_shared_from_this<TrainerHub::Impl> {
 public:
  Impl(asio::io_context& io, balancer::Balancer& balancer, Store& store, Metrics& metrics, EventBus& bus,
       TrainerHubOptions options)
      : strand_(asio::make_strand(io)),
        retention_timer_(strand_),
        balancer_(balancer),
        store_(store),
        bus_(bus),
        options_(options),
        connected_(prometheus::BuildGauge()
                       .Name("rockd_trainers_connected")
                       .Help("Trainers with a /ws/trainer connection.")
                       .Register(metrics.registry())
                       .Add({})),
        pending_(prometheus::BuildGauge()
                     .Name("rockd_trainer_pending_trajectories")
                     .Help("Committed trajectories the trainer has not acknowledged.")
                     .Register(metrics.registry())),
        sent_(prometheus::BuildCounter()
                  .Name("rockd_trainer_trajectories_sent_total")
                  .Help("Trajectories sent to the trainer, redeliveries included.")
                  .Register(metrics.registry())),
        redeliveries_(prometheus::BuildCounter()
                          .Name("rockd_trainer_redeliveries_total")
                          .Help("Trajectories sent again after a reconnect, not having been acknowledged.")
                          .Register(metrics.registry())),
        credit_stalls_(prometheus::BuildCounter()
                           .Name("rockd_trainer_credit_stalls_total")
                           .Help("Committed trajectories that had to wait for the trainer's credit.")
                           .Register(metrics.registry())) {}

  template <typename F>
  void Post(F&& f) {
    asio::post(strand_, [self = shared_from_this(), f = std::forward<F>(f)]() mutable { f(*self); });
  }

  // --- connections ---

  uint64_t Connect(std::shared_ptr<WsChannel> channel) {
    const uint64_t id = ++next_connection_;
    Post([id, weak = std::weak_ptr<WsChannel>(channel)](Impl& hub) { hub.connections_[id] = Connection{weak}; });
    return id;
  }

  void OnFrame(uint64_t connection_id, StatusOr<json> message) {
    const auto it = connections_.find(connection_id);
    if (it == connections_.end()) return;
    Connection& c = it->second;
    if (!message.ok()) return SendTo(c, ErrorFrame(message.status()));
    const std::string type = (*message)["type"].get<std::string>();
    if (type == "ping") {
      json pong = std::move(message).value();
      pong["type"] = "pong";
      return SendTo(c, pong);
    }
    if (type == "hello") return Hello(connection_id, c, *message);
    if (c.trainer.empty()) {
      return SendTo(c, ErrorFrame(FailedPrecondition(c.replaced ? "another connection took this trainer's stream over"
                                                                 : "send hello first")));
    }
    Trainer& t = trainers_.at(c.trainer);
    if (type == "start") return StartGroup(t, *message);
    if (type == "act") return Act(t, *message);
    if (type == "cancel") return Cancel(t, *message);
    if (type == "ack") return Ack(t, *message);
    if (type == "credit") return Credit(t, *message);
    if (type == "report") return Report(t, *message);
    SendTo(c, ErrorFrame(InvalidArgument("unknown message type '" + type + "'")));
  }

  void Disconnect(uint64_t connection_id) {
    const auto it = connections_.find(connection_id);
    if (it == connections_.end()) return;
    if (!it->second.trainer.empty()) {
      Trainer& t = trainers_.at(it->second.trainer);
      if (t.connection == connection_id) {
        t.connection = 0;
        t.credits = 0;
        connected_.Decrement();
      }
    }
    connections_.erase(it);
  }

  // --- episodes ---

  void OnEpisodeEnded(const balancer::EpisodeSummary& summary) {
    const auto it = episodes_.find(summary.id);
    if (it == episodes_.end()) {
      // A group member may end before the whole group has started and the hub knows it.
      if (!summary.group.empty()) RememberEndedEarly(summary);
      return;
    }
    Episode e = std::move(it->second);
    episodes_.erase(it);
    Trainer& t = trainers_.at(e.trainer);
    t.episodes.erase(summary.id);
    RememberEnded(summary.id, e.trainer, summary.state == balancer::EpisodeState::kCancelled,
                  TrajectoryStatus(summary));
    json trajectory = {{"type", "trajectory"},
                       {"episode", summary.id},
                       {"group", e.group},
                       {"trainer", e.trainer},
                       {"env", summary.spec.env},
                       {"task", summary.spec.task},
                       {"seed", summary.spec.seed},
                       {"observation", e.first_observation},
                       {"steps", std::move(e.steps)},
                       {"return", summary.total_reward},
                       {"status", TrajectoryStatus(summary)},
                       {"end_reason", summary.end_reason},
                       {"failovers", summary.failovers},
                       {"policy_version_min", e.min_version ? json(*e.min_version) : json(nullptr)},
                       {"policy_version_max", e.max_version ? json(*e.max_version) : json(nullptr)},
                       {"started_ms", summary.started_ms},
                       {"ended_ms", summary.ended_ms}};
    auto payload = std::make_shared<std::string>(trajectory.dump());
    auto seq = std::make_shared<int64_t>(0);
    store_.Write(
        "record the trajectory of episode " + summary.id,
        [id = summary.id, trainer = e.trainer, payload, seq](Store::Writer& w) {
          SQLite::Statement& insert =
              w.Prepare("INSERT INTO trajectories (episode_id, trainer, payload, created_at) VALUES (?, ?, ?, ?)");
          insert.bind(1, id);
          insert.bind(2, trainer);
          insert.bind(3, *payload);
          insert.bind(4, UnixMillis());
          insert.exec();
          *seq = w.db().getLastInsertRowid();
        },
        [weak = weak_from_this(), trainer = e.trainer, payload, seq](Status committed) {
          auto self = weak.lock();
          if (!self) return;
          if (!committed.ok()) {
            spdlog::error("trainer {}: a trajectory was not stored: {}", trainer, committed.message());
            return;
          }
          self->Post([trainer, payload, seq](Impl& hub) {
            hub.OnCommitted(trainer, static_cast<uint64_t>(*seq), payload);
          });
        });
  }

  // --- retention ---

  void ScheduleRetention() {
    retention_timer_.expires_after(std::chrono::minutes(1));
    retention_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopping_) return;
      const int64_t before = UnixMillis() - std::chrono::duration_cast<std::chrono::milliseconds>(self->options_.retain_acked).count();
      self->store_.Write("delete acknowledged trajectories past their retention", [before](Store::Writer& w) {
        SQLite::Statement& erase = w.Prepare("DELETE FROM trajectories WHERE acked_at IS NOT NULL AND acked_at < ?");
        erase.bind(1, before);
        erase.exec();
      });
      self->ScheduleRetention();
    });
  }

  void Stop() {
    stopping_ = true;
    retention_timer_.cancel();
  }

 private:
  struct Connection {
    std::weak_ptr<WsChannel> channel;
    Encoding encoding = Encoding::kJson;
    std::string trainer;    // empty until hello
    bool replaced = false;  // another connection took the trainer over
  };

  struct Ready {
    uint64_t seq = 0;
    std::shared_ptr<const std::string> payload;  // the trajectory without its seq
  };

  struct Trainer {
    std::string name;
    uint64_t connection = 0;  // 0: not connected
    uint64_t credits = 0;
    uint64_t acked_seq = 0;
    uint64_t delivered_seq = 0;  // highest seq sent on the current connection
    uint64_t queued_seq = 0;     // highest seq sent or in `ready`
    uint64_t max_sent_seq = 0;   // highest seq ever sent: one at or below it is a redelivery
    uint64_t pending = 0;        // committed, unacknowledged
    uint64_t policy_version = 0;
    // The client's session (hello.session) and the highest start req it sent in it: a client
    // resends, after a reconnect, exactly the starts above it (welcome.last_req).
    std::string session;
    uint64_t last_req = 0;
    // Errors answering starts of the session while it had no connection: the client will not
    // send those starts again (they are at or below last_req), so they go after the next welcome.
    std::deque<json> unsent_start_errors;
    std::deque<Ready> ready;
    bool backlog = false;  // unsent trajectories wait in SQLite beyond `ready`
    std::deque<uint64_t> in_flight;  // sent on this connection, unacknowledged
    std::map<std::string, bool> episodes;  // live; true once it is being expired
    uint64_t starting = 0;  // episodes of starts the balancer has not answered yet
    prometheus::Gauge* pending_gauge = nullptr;
    prometheus::Counter* sent = nullptr;
    prometheus::Counter* redeliveries = nullptr;
    prometheus::Counter* credit_stalls = nullptr;
  };

  struct Episode {
    std::string trainer;
    std::string group;
    std::string first_observation;
    json steps = json::array();
    uint32_t next_step = 1;
    bool acting = false;
    std::string action;  // of the act in flight
    json policy_version;
    json logprobs;
    Clock::time_point act_began;
    std::optional<uint64_t> first_version, min_version, max_version;
    std::string last_obs;  // JSON text, sent again when the trainer reconnects, so it can go on where it was
  };

  static json ErrorFrame(const Status& status, const json& req = nullptr, const std::string& episode = "") {
    json frame = {{"type", "error"}, {"code", code_name(status.code())}, {"message", status.message()}};
    if (!req.is_null()) frame["req"] = req;
    if (!episode.empty()) frame["episode"] = episode;
    return frame;
  }

  void SendTo(const Connection& c, const json& message) {
    auto channel = c.channel.lock();
    if (!channel) return;
    if (c.encoding == Encoding::kMsgpack) {
      const std::vector<uint8_t> bytes = json::to_msgpack(message);
      channel->Send(std::make_shared<const std::string>(bytes.begin(), bytes.end()), true);
    } else {
      channel->Send(std::make_shared<const std::string>(message.dump()), false);
    }
  }

  // `text` is a JSON message: as it is, or in MessagePack.
  void SendTextTo(const Connection& c, const std::string& text) {
    if (c.encoding == Encoding::kMsgpack) return SendTo(c, json::parse(text));
    if (auto channel = c.channel.lock()) channel->Send(std::make_shared<const std::string>(text), false);
  }

  // To the trainer's current connection; dropped while it has none (it reads the episode back
  // with GET /api/v1/episodes/{id} after reconnecting).
  void Send(const Trainer& t, const json& message) {
    if (t.connection == 0) return;
    SendTo(connections_.at(t.connection), message);
  }
  void SendText(const Trainer& t, const std::string& text) {
    if (t.connection == 0) return;
    SendTextTo(connections_.at(t.connection), text);
  }

  // An error answering start `req`: sent now, or kept for the session's next connection.
  void AnswerStart(Trainer& t, const Status& status, const json& req) {
    json error = ErrorFrame(status, req);
    if (t.connection != 0) return Send(t, error);
    if (t.unsent_start_errors.size() >= kMaxUnsentStartErrors) {
      spdlog::warn("trainer {}: {} start errors wait for a connection; dropping the oldest", t.name,
                   t.unsent_start_errors.size());
      t.unsent_start_errors.pop_front();
    }
    t.unsent_start_errors.push_back(std::move(error));
  }

  void SendTrajectory(Trainer& t, const Ready& ready) {
    const Connection& c = connections_.at(t.connection);
    if (c.encoding == Encoding::kMsgpack) {
      json trajectory = json::parse(*ready.payload);
      trajectory["seq"] = ready.seq;
      SendTo(c, trajectory);
    } else if (auto channel = c.channel.lock()) {
      // The stored payload is a JSON object: the seq goes in front of its first member, without
      // parsing and dumping it again.
      channel->Send(std::make_shared<const std::string>("{\"seq\":" + std::to_string(ready.seq) + "," +
                                                        ready.payload->substr(1)),
                    false);
    }
    t.sent->Increment();
    if (ready.seq <= t.max_sent_seq) t.redeliveries->Increment();
    t.max_sent_seq = std::max(t.max_sent_seq, ready.seq);
    t.delivered_seq = ready.seq;
    t.in_flight.push_back(ready.seq);
  }

  // --- hello ---

  void Hello(uint64_t connection_id, Connection& c, const json& hello) {
    if (!c.trainer.empty()) return SendTo(c, ErrorFrame(FailedPrecondition("hello was already sent")));
    std::string name;
    uint64_t credits = 0, after_seq = 0;
    Encoding encoding = Encoding::kJson;
    Status checked = CheckTrainerName(hello, &name);
    if (checked.ok()) checked = ReadUnsigned(hello, "credits", 0, kMaxCredits, "", &credits);
    if (const auto it = hello.find("encoding"); checked.ok() && it != hello.end()) {
      if (*it == "msgpack") {
        encoding = Encoding::kMsgpack;
      } else if (*it != "json") {
        checked = InvalidArgument("'encoding' must be \"json\" or \"msgpack\"");
      }
    }
    if (const auto it = hello.find("resume"); checked.ok() && it != hello.end()) {
      checked = it->is_object() ? ReadUnsigned(*it, "after_seq", 0, kMaxSeq, "resume.", &after_seq)
                                : InvalidArgument("'resume' must be an object");
    }
    if (checked.ok() && !trainers_.contains(name) && trainers_.size() >= options_.max_trainers) {
      checked = Status(Code::kResourceExhausted,
                       "rockd serves at most " + std::to_string(options_.max_trainers) + " trainer names (stream.max_trainers)");
    }
    std::string session;
    if (const auto it = hello.find("session"); checked.ok() && it != hello.end()) {
      if (it->is_string() && !it->get<std::string>().empty() && it->get<std::string>().size() <= 128) {
        session = it->get<std::string>();
      } else {
        checked = InvalidArgument("'session' must be a string of 1 to 128 characters");
      }
    }
    if (!checked.ok()) return SendTo(c, ErrorFrame(checked));

    Trainer& t = TrainerNamed(name);
    if (session.empty() || session != t.session) {
      t.session = session;
      t.last_req = 0;
      t.unsent_start_errors.clear();  // another client's reqs
    }
    if (t.connection != 0 && t.connection != connection_id) {
      // One stream per trainer name: the newer connection wins (the old one may be half dead).
      Connection& old = connections_.at(t.connection);
      old.trainer.clear();
      old.replaced = true;
      if (auto channel = old.channel.lock()) channel->Close();
      connected_.Decrement();
    }
    c.trainer = name;
    c.encoding = encoding;
    t.connection = connection_id;
    connected_.Increment();
    t.credits = credits;
    uint64_t head_seq = 0;
    Status read = store_.Read("read trainer " + name + "'s head", [&](SQLite::Database& db) {
      SQLite::Statement head(db, "SELECT COALESCE(MAX(seq), 0) FROM trajectories WHERE trainer = ?");
      head.bind(1, name);
      if (head.executeStep()) head_seq = static_cast<uint64_t>(head.getColumn(0).getInt64());
    });
    // Resuming past the newest trajectory means "I have them all": acking beyond it would hide
    // trajectories still to come, whose seqs are below the number the trainer sent.
    if (const uint64_t through = std::min(after_seq, head_seq); through > t.acked_seq) AckThrough(t, through);
    // Everything unacknowledged is delivered again, from SQLite, in seq order.
    t.delivered_seq = t.acked_seq;
    t.queued_seq = t.acked_seq;
    t.ready.clear();
    t.in_flight.clear();
    t.backlog = true;
    if (read.ok()) {
      read = store_.Read("count trainer " + name + "'s pending trajectories", [&](SQLite::Database& db) {
        SQLite::Statement pending(db, "SELECT COUNT(*) FROM trajectories WHERE trainer = ? AND seq > ? AND acked_at IS NULL");
        pending.bind(1, name);
        pending.bind(2, static_cast<int64_t>(t.acked_seq));
        if (pending.executeStep()) t.pending = static_cast<uint64_t>(pending.getColumn(0).getInt64());
      });
    }
    if (!read.ok()) spdlog::error("trainer {}: {}", name, read.message());
    t.pending_gauge->Set(static_cast<double>(t.pending));
    const int64_t now = UnixMillis();
    store_.Write("record trainer " + name + " connecting", [name, now](Store::Writer& w) {
      SQLite::Statement& upsert = w.Prepare("INSERT INTO trainers (name, connected_at, last_seen) VALUES (?, ?, ?) "
                                            "ON CONFLICT (name) DO UPDATE SET connected_at = excluded.connected_at, "
                                            "last_seen = excluded.last_seen");
      upsert.bind(1, name);
      upsert.bind(2, now);
      upsert.bind(3, now);
      upsert.exec();
    });
    spdlog::info("trainer {} connected ({} credits, resuming after seq {}, {} pending)", name, credits, t.acked_seq,
                 t.pending);
    SendTo(c, {{"type", "welcome"},
               {"trainer", name},
               {"head_seq", head_seq},
               {"acked_seq", t.acked_seq},
               {"pending", t.pending},
               {"boot_id", boot_id_},
               {"last_req", t.last_req}});
    // Episodes waiting for an act: the trainer may have missed their last obs while away.
    for (const auto& [id, expiring] : t.episodes) {
      const Episode& e = episodes_.at(id);
      if (!e.acting) SendTextTo(c, e.last_obs);
    }
    for (const json& error : std::exchange(t.unsent_start_errors, {})) SendTo(c, error);
    Pump(t);
  }

  // The trainer's state; on first sight after a (re)start its acknowledgements come from SQLite.
  Trainer& TrainerNamed(const std::string& name) {
    const auto found = trainers_.find(name);
    if (found != trainers_.end()) return found->second;
    Trainer& t = trainers_[name];
    t.name = name;
    const prometheus::Labels labels = {{"trainer", name}};
    t.pending_gauge = &pending_.Add(labels);
    t.sent = &sent_.Add(labels);
    t.redeliveries = &redeliveries_.Add(labels);
    t.credit_stalls = &credit_stalls_.Add(labels);
    Status read = store_.Read("read trainer " + name, [&](SQLite::Database& db) {
      SQLite::Statement acked(db, "SELECT acked_seq FROM trainers WHERE name = ?");
      acked.bind(1, name);
      if (acked.executeStep()) t.acked_seq = static_cast<uint64_t>(acked.getColumn(0).getInt64());
    });
    if (!read.ok()) spdlog::error("trainer {}: {}", name, read.message());
    t.max_sent_seq = t.acked_seq;
    return t;
  }

  // --- delivery ---

  void OnCommitted(const std::string& trainer, uint64_t seq, std::shared_ptr<const std::string> payload) {
    Trainer& t = trainers_.at(trainer);
    ++t.pending;
    t.pending_gauge->Set(static_cast<double>(t.pending));
    if (t.connection == 0 || t.credits == 0) t.credit_stalls->Increment();
    // A backlog is read from SQLite in order, and a seq at or below queued_seq was read already.
    if (t.backlog || seq <= t.queued_seq) return Pump(t);
    if (t.ready.size() >= kReadyMax) {
      t.backlog = true;
      return Pump(t);
    }
    t.ready.push_back({seq, std::move(payload)});
    t.queued_seq = seq;
    Pump(t);
  }

  // Sends what credit allows, refilling `ready` from SQLite while a backlog waits there.
  void Pump(Trainer& t) {
    while (t.connection != 0 && t.credits > 0) {
      if (t.ready.empty() && (!t.backlog || !LoadBacklog(t))) break;
      const Ready next = std::move(t.ready.front());
      t.ready.pop_front();
      --t.credits;
      SendTrajectory(t, next);
    }
  }

  // Reads the next unsent trajectories (seq above queued_seq) into `ready`; false when none.
  bool LoadBacklog(Trainer& t) {
    const std::size_t want = kReadyMax;
    std::size_t got = 0;
    Status read = store_.Read("read trainer " + t.name + "'s backlog", [&](SQLite::Database& db) {
      SQLite::Statement next(db,
                             "SELECT seq, payload FROM trajectories WHERE trainer = ? AND acked_at IS NULL AND seq > ? "
                             "ORDER BY seq LIMIT ?");
      next.bind(1, t.name);
      next.bind(2, static_cast<int64_t>(t.queued_seq));
      next.bind(3, static_cast<int64_t>(want));
      while (next.executeStep()) {
        const auto seq = static_cast<uint64_t>(next.getColumn(0).getInt64());
        t.ready.push_back({seq, std::make_shared<const std::string>(next.getColumn(1).getString())});
        t.queued_seq = seq;
        ++got;
      }
    });
    if (!read.ok()) {
      spdlog::error("trainer {}: {}", t.name, read.message());
      return false;
    }
    t.backlog = got == want;
    return got > 0;
  }

  void AckThrough(Trainer& t, uint64_t seq) {
    t.acked_seq = seq;
    uint64_t acked = 0;
    while (!t.in_flight.empty() && t.in_flight.front() <= seq) {
      t.in_flight.pop_front();
      ++acked;
    }
    t.pending -= std::min(t.pending, acked);
    t.pending_gauge->Set(static_cast<double>(t.pending));
    const int64_t now = UnixMillis();
    store_.Write("record trainer " + t.name + "'s ack of seq " + std::to_string(seq),
                 [name = t.name, seq, now](Store::Writer& w) {
                   SQLite::Statement& ack =
                       w.Prepare("UPDATE trajectories SET acked_at = ? WHERE trainer = ? AND seq <= ? AND "
                                 "acked_at IS NULL");
                   ack.bind(1, now);
                   ack.bind(2, name);
                   ack.bind(3, static_cast<int64_t>(seq));
                   ack.exec();
                   SQLite::Statement& trainer =
                       w.Prepare("UPDATE trainers SET acked_seq = ?, last_seen = ? WHERE name = ?");
                   trainer.bind(1, static_cast<int64_t>(seq));
                   trainer.bind(2, now);
                   trainer.bind(3, name);
                   trainer.exec();
                 });
  }

  void Ack(Trainer& t, const json& ack) {
    uint64_t seq = 0;
    if (!ack.contains("seq")) return Send(t, ErrorFrame(InvalidArgument("'seq' is required")));
    if (Status s = ReadUnsigned(ack, "seq", 0, kMaxSeq, "", &seq); !s.ok()) return Send(t, ErrorFrame(s));
    if (seq == t.acked_seq) return;  // repeated (a reconnected trainer re-acking its saved seq): harmless
    if (seq < t.acked_seq) {
      return Send(t, ErrorFrame(FailedPrecondition("ack " + std::to_string(seq) + " is below the last ack, " +
                                                   std::to_string(t.acked_seq))));
    }
    if (seq > t.delivered_seq) {
      return Send(t, ErrorFrame(FailedPrecondition("ack " + std::to_string(seq) +
                                                   " is above the highest seq delivered, " +
                                                   std::to_string(t.delivered_seq))));
    }
    AckThrough(t, seq);
  }

  void Credit(Trainer& t, const json& credit) {
    uint64_t n = 0;
    if (!credit.contains("n")) return Send(t, ErrorFrame(InvalidArgument("'n' is required")));
    if (Status s = ReadUnsigned(credit, "n", 1, kMaxCredits, "", &n); !s.ok()) return Send(t, ErrorFrame(s));
    t.credits = std::min(kMaxCredits, t.credits + n);
    Pump(t);
  }

  // --- episodes ---

  // Reads `policy_version` when present; the trainer's newest version only grows.
  Status NotePolicyVersion(Trainer& t, const json& message, std::optional<uint64_t>* version) {
    if (!message.contains("policy_version")) return Status::Ok();
    uint64_t v = 0;
    if (Status s = ReadUnsigned(message, "policy_version", 0, kMaxPolicyVersion, "", &v); !s.ok()) return s;
    *version = v;
    t.policy_version = std::max(t.policy_version, v);
    return Status::Ok();
  }

  // Episodes whose first action is more than max_staleness versions behind the trainer's
  // newest policy end as expired.
  void ExpireStale(Trainer& t) {
    if (options_.max_staleness == 0) return;
    for (auto& [id, expiring] : t.episodes) {
      const Episode& e = episodes_.at(id);
      if (expiring || !e.first_version || t.policy_version <= *e.first_version + options_.max_staleness) continue;
      expiring = true;
      // An init-capture: clang before 16 (the fuzz build) cannot capture a structured binding.
      balancer_.Cancel(id, "expired", [id = id](Status cancelled) {
        if (!cancelled.ok()) spdlog::debug("expiring episode {}: {}", id, cancelled.message());
      });
    }
  }

  void StartGroup(Trainer& t, const json& start) {
    const json req = start.value("req", json(nullptr));
    // Received, so answered from here on (an error or the episodes' obs), on whatever
    // connection the trainer has by then.
    if (req.is_number_unsigned()) t.last_req = std::max(t.last_req, req.get<uint64_t>());
    json request = json::object();
    for (const char* key : {"env", "task", "seed", "max_steps"}) {
      if (start.contains(key)) request[key] = start[key];
    }
    StatusOr<balancer::EpisodeSpec> spec = EpisodeSpecFromRequest(request, {});
    uint64_t n = 1, redundancy = 0;
    std::optional<uint64_t> version;
    Status checked = spec.status();
    if (checked.ok()) checked = ReadUnsigned(start, "n", 1, 4096, "", &n);
    if (checked.ok()) checked = ReadUnsigned(start, "redundancy", 0, 4096, "", &redundancy);
    if (checked.ok()) checked = NotePolicyVersion(t, start, &version);
    std::string label;
    if (const auto it = start.find("group"); checked.ok() && it != start.end() && !it->is_null()) {
      if (it->is_string() && !it->get<std::string>().empty() && it->get<std::string>().size() <= 128) {
        label = it->get<std::string>();
      } else {
        checked = InvalidArgument("'group' must be a string of 1 to 128 characters");
      }
    }
    if (!checked.ok()) return AnswerStart(t, checked, req);
    ExpireStale(t);
    // Live and starting episodes count, so a loop of starts cannot queue without bound.
    const uint64_t members = n + redundancy;
    if (t.episodes.size() + t.starting + members > options_.max_episodes_per_trainer) {
      return AnswerStart(t,
                         Status(Code::kResourceExhausted,
                                "trainer '" + t.name + "' has " + std::to_string(t.episodes.size() + t.starting) +
                                    " open episodes and asked for " + std::to_string(members) + " more; the limit is " +
                                    std::to_string(options_.max_episodes_per_trainer) +
                                    " (stream.max_episodes_per_trainer)"),
                         req);
    }
    t.starting += members;
    balancer::GroupSpec group{std::move(spec).value(), static_cast<uint32_t>(n), static_cast<uint32_t>(redundancy)};
    // The members' start records were queued before the balancer answered; the trainer hears of
    // them once those are committed, so a rockd killed right after still knows every episode it
    // told a trainer about (and fails it on restart) instead of answering "no episode".
    balancer_.StartGroup(std::move(group), [weak = weak_from_this(), trainer = t.name, req, label,
                                            members](StatusOr<balancer::GroupStarted> started) {
      auto self = weak.lock();
      if (!self) return;
      self->store_.AfterQueuedWrites(
          "record the start of trainer " + trainer + "'s group",
          [weak, trainer, req, label, members, started = std::move(started)](Status committed) mutable {
            auto hub_impl = weak.lock();
            if (!hub_impl) return;
            if (!committed.ok() && started.ok()) {
              started = Internal("the group started, but recording its start failed: " + committed.message());
            }
            hub_impl->Post([trainer, req, label, members, started = std::move(started)](Impl& hub) mutable {
              hub.OnGroupStarted(trainer, req, label, members, std::move(started));
            });
          });
    });
  }

  void OnGroupStarted(const std::string& trainer, const json& req, const std::string& label, uint64_t members,
                      StatusOr<balancer::GroupStarted> started) {
    Trainer& t = trainers_.at(trainer);
    t.starting -= members;  // the started ones are in t.episodes from here on
    if (!started.ok()) return AnswerStart(t, started.status(), req);
    const std::string group = label.empty() ? started->group : label;
    for (StatusOr<balancer::Started>& member : started->episodes) {
      if (!member.ok()) {
        AnswerStart(t, member.status(), req);
        continue;
      }
      Episode& e = episodes_[member->id];
      e.trainer = trainer;
      e.group = group;
      e.first_observation = member->reply.observation;
      t.episodes[member->id] = false;
      const auto early = ended_early_.find(member->id);
      if (early != ended_early_.end()) {
        const balancer::EpisodeSummary summary = early->second;
        ended_early_.erase(early);
        OnEpisodeEnded(summary);
        continue;
      }
      const json obs = {{"type", "obs"},
                        {"episode", member->id},
                        {"step", 0},
                        {"observation", member->reply.observation},
                        {"reward", 0},
                        {"terminated", false},
                        {"truncated", false},
                        {"group", group},
                        {"req", req}};
      e.last_obs = DumpWithRawMember(obs, "info", member->reply.info_json);
      SendText(t, e.last_obs);
    }
  }

  void RememberEndedEarly(const balancer::EpisodeSummary& summary) {
    ended_early_[summary.id] = summary;
    ended_early_order_.push_back(summary.id);
    while (ended_early_order_.size() > kEndedEarlyMax) {
      ended_early_.erase(ended_early_order_.front());
      ended_early_order_.pop_front();
    }
  }

  // A trainer's ended episodes, remembered a while so that a late act is told why it cannot run.
  void RememberEnded(const std::string& id, const std::string& trainer, bool cancelled, const std::string& status) {
    ended_[id] = Ended{trainer, cancelled, status};
    ended_order_.push_back(id);
    while (ended_order_.size() > kEndedMax) {
      ended_.erase(ended_order_.front());
      ended_order_.pop_front();
    }
  }

  // The trainer's running episode `id`, or why not: aborted when it was cancelled (by the
  // trainer, as redundant or expired), failed_precondition when it ended otherwise.
  StatusOr<Episode*> Owned(const Trainer& t, const json& message) {
    const auto field = message.find("episode");
    if (field == message.end() || !field->is_string()) return InvalidArgument("'episode' is required and must be a string");
    const std::string id = field->get<std::string>();
    if (const auto it = episodes_.find(id); it != episodes_.end() && it->second.trainer == t.name) return &it->second;
    if (const auto ended = ended_.find(id); ended != ended_.end() && ended->second.trainer == t.name) {
      const std::string why = "episode " + id + " has ended (" + ended->second.status + ")";
      return ended->second.cancelled ? Aborted(why) : FailedPrecondition(why);
    }
    return NotFound("no running episode " + id + " of trainer " + t.name);
  }

  void Act(Trainer& t, const json& act) {
    const std::string id = EpisodeField(act);
    StatusOr<Episode*> owned = Owned(t, act);
    if (!owned.ok()) return Send(t, ErrorFrame(owned.status(), nullptr, id));
    Episode& e = **owned;
    uint64_t step = 0;
    std::optional<uint64_t> version;
    Status checked = act.contains("step") ? ReadUnsigned(act, "step", 1, 1'000'000, "", &step)
                                          : InvalidArgument("'step' is required");
    const auto action = act.find("action");
    if (checked.ok() && (action == act.end() || !action->is_string())) {
      checked = InvalidArgument("'action' is required and must be a string");
    }
    if (checked.ok()) checked = CheckLogprobs(act);
    if (checked.ok() && e.acting) {
      checked = FailedPrecondition("step " + std::to_string(e.next_step) + " of episode " + id + " is still in flight");
    }
    if (checked.ok() && step != e.next_step) {
      checked = FailedPrecondition("episode " + id + " expects step " + std::to_string(e.next_step) + ", not " +
                                   std::to_string(step));
    }
    if (checked.ok()) checked = NotePolicyVersion(t, act, &version);
    if (!checked.ok()) return Send(t, ErrorFrame(checked, nullptr, id));
    e.acting = true;
    e.action = action->get<std::string>();
    e.policy_version = version ? json(*version) : json(nullptr);
    e.logprobs = act.value("logprobs", json(nullptr));
    e.act_began = Clock::now();
    if (version) {
      if (!e.first_version) e.first_version = version;
      e.min_version = std::min(e.min_version.value_or(*version), *version);
      e.max_version = std::max(e.max_version.value_or(*version), *version);
    }
    balancer_.Step(id, e.action, [weak = weak_from_this(), id](StatusOr<balancer::EnvReply> reply) {
      if (auto self = weak.lock()) {
        self->Post([id, reply = std::move(reply)](Impl& hub) mutable { hub.OnStepAnswer(id, std::move(reply)); });
      }
    });
    ExpireStale(t);
  }

  void OnStepAnswer(const std::string& id, StatusOr<balancer::EnvReply> reply) {
    const auto it = episodes_.find(id);
    if (it == episodes_.end()) return;
    Episode& e = it->second;
    const Trainer& t = trainers_.at(e.trainer);
    e.acting = false;
    if (!reply.ok()) return Send(t, ErrorFrame(reply.status(), nullptr, id));
    const uint32_t step = e.next_step++;
    e.steps.push_back({{"step", step},
                       {"action", e.action},
                       {"observation", reply->observation},
                       {"reward", reply->reward},
                       {"terminated", reply->terminated},
                       {"truncated", reply->truncated},
                       {"policy_version", e.policy_version},
                       {"logprobs", e.logprobs},
                       {"ts_ms", UnixMillis()},
                       {"duration_us",
                        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - e.act_began).count()}});
    const json obs = {{"type", "obs"},
                      {"episode", id},
                      {"step", step},
                      {"observation", reply->observation},
                      {"reward", reply->reward},
                      {"terminated", reply->terminated},
                      {"truncated", reply->truncated},
                      {"group", e.group}};
    e.last_obs = DumpWithRawMember(obs, "info", reply->info_json);
    SendText(t, e.last_obs);
  }

  void Cancel(Trainer& t, const json& cancel) {
    const std::string id = EpisodeField(cancel);
    StatusOr<Episode*> owned = Owned(t, cancel);
    if (!owned.ok()) return Send(t, ErrorFrame(owned.status(), nullptr, id));
    balancer_.Cancel(id, "cancelled", [weak = weak_from_this(), trainer = t.name, id](Status cancelled) {
      if (cancelled.ok()) return;
      if (auto self = weak.lock()) {
        self->Post([trainer, id, cancelled](Impl& hub) { hub.Send(hub.trainers_.at(trainer), ErrorFrame(cancelled, nullptr, id)); });
      }
    });
  }

  void Report(Trainer& t, const json& report) {
    const auto metrics = report.find("metrics");
    if (metrics == report.end() || !metrics->is_object()) {
      return Send(t, ErrorFrame(InvalidArgument("'metrics' is required and must be an object")));
    }
    const int64_t now = UnixMillis();
    store_.Write("record trainer " + t.name + "'s report", [name = t.name, text = metrics->dump(), now,
                                                          version = static_cast<int64_t>(t.policy_version)](Store::Writer& w) {
      SQLite::Statement& update = w.Prepare("UPDATE trainers SET last_report_json = ?, last_seen = ? WHERE name = ?");
      update.bind(1, text);
      update.bind(2, now);
      update.bind(3, name);
      update.exec();
      SQLite::Statement& insert =
          w.Prepare("INSERT INTO trainer_reports (trainer, ts, policy_version, metrics_json) VALUES (?, ?, ?, ?)");
      insert.bind(1, name);
      insert.bind(2, now);
      insert.bind(3, version);
      insert.bind(4, text);
      insert.exec();
      // A bounded history: a trainer reporting every step for weeks never fills the disk.
      SQLite::Statement& prune = w.Prepare("DELETE FROM trainer_reports WHERE id <= last_insert_rowid() - ?");
      prune.bind(1, kMaxStoredReports);
      prune.exec();
    });
    bus_.Publish("trainer_report", {{"trainer", t.name}, {"policy_version", t.policy_version}, {"metrics", *metrics}});
  }

  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer retention_timer_;
  balancer::Balancer& balancer_;
  Store& store_;
  EventBus& bus_;
  const TrainerHubOptions options_;
  // This rockd process, in every welcome: a client that sees it change knows that the episodes
  // it had in flight died with the previous process.
  const std::string boot_id_ = NewRandomId("boot");
  prometheus::Gauge& connected_;
  prometheus::Family<prometheus::Gauge>& pending_;
  prometheus::Family<prometheus::Counter>& sent_;
  prometheus::Family<prometheus::Counter>& redeliveries_;
  prometheus::Family<prometheus::Counter>& credit_stalls_;
  std::atomic<uint64_t> next_connection_{0};
  std::map<uint64_t, Connection> connections_;
  std::map<std::string, Trainer> trainers_;
  std::map<std::string, Episode> episodes_;
  struct Ended {
    std::string trainer;
    bool cancelled = false;
    std::string status;
  };
  static constexpr std::size_t kEndedMax = 4096;
  std::map<std::string, Ended> ended_;
  std::deque<std::string> ended_order_;
  // Group episodes that ended before their group's start reached the hub (most are not a
  // trainer's: HTTP groups end here too), the oldest forgotten first.
  static constexpr std::size_t kEndedEarlyMax = 1024;
  std::map<std::string, balancer::EpisodeSummary> ended_early_;
  std::deque<std::string> ended_early_order_;
  bool stopping_ = false;
};

namespace {

// One /ws/trainer connection: frames are decoded on the connection's strand and handed to the
// hub's.
class TrainerHandler : public WsHandler {
 public:
  TrainerHandler(std::weak_ptr<TrainerHub::Impl> hub, uint64_t id) : hub_(std::move(hub)), id_(id) {}

  void OnMessage(std::string_view message, bool binary) override {
    auto hub = hub_.lock();
    if (!hub) return;
    hub->Post([id = id_, decoded = Decode(message, binary)](TrainerHub::Impl& impl) mutable {
      impl.OnFrame(id, std::move(decoded));
    });
  }

  void OnClose() override {
    if (auto hub = hub_.lock()) hub->Post([id = id_](TrainerHub::Impl& impl) { impl.Disconnect(id); });
  }

 private:
  std::weak_ptr<TrainerHub::Impl> hub_;
  const uint64_t id_;
};

}  // namespace

TrainerHub::TrainerHub(asio::io_context& io, balancer::Balancer& balancer, Store& store, Metrics& metrics, EventBus& bus,
                       TrainerHubOptions options)
    : impl_(std::make_shared<Impl>(io, balancer, store, metrics, bus, options)) {}

TrainerHub::~TrainerHub() = default;

WsEndpoint TrainerHub::Endpoint() {
  return [weak = std::weak_ptr<Impl>(impl_)](std::shared_ptr<WsChannel> channel,
                                              const HttpRequest&) -> std::shared_ptr<WsHandler> {
    auto hub = weak.lock();
    if (!hub) return nullptr;
    return std::make_shared<TrainerHandler>(weak, hub->Connect(std::move(channel)));
  };
}

void TrainerHub::OnEpisodeEnded(const balancer::EpisodeSummary& episode) {
  impl_->Post([episode](Impl& impl) { impl.OnEpisodeEnded(episode); });
}

void TrainerHub::StartRetention() {
  impl_->Post([](Impl& impl) { impl.ScheduleRetention(); });
}

void TrainerHub::Stop() {
  impl_->Post([](Impl& impl) { impl.Stop(); });
}

}  // namespace rock
