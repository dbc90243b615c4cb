#include "tests/soak/trainer_load.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "tests/soak/soak_rockd.h"

namespace rock::soak {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t kProblemsKept = 20;
// The SWE-bench task set built with rockd; the soak only needs an instance that resets and grades.
constexpr const char* kSwebenchInstance = "rockd-tasks__minicalc-2";

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void TrainerTally::Add(const TrainerTally& other) {
  starts += other.starts;
  episodes += other.episodes;
  steps += other.steps;
  trajectories += other.trajectories;
  for (const auto& [status, n] : other.statuses) statuses[status] += n;
  for (const auto& [code, n] : other.errors) errors[code] += n;
  reconnects += other.reconnects;
  stalls += other.stalls;
  starts_resent += other.starts_resent;
  episodes_lost_with_rockd += other.episodes_lost_with_rockd;
  lost += other.lost;
  duplicates += other.duplicates;
  problems.insert(problems.end(), other.problems.begin(), other.problems.end());
}

TrainerLoad::TrainerLoad(TrainerLoadOptions options, SoakRockd& rockd)
    : options_(std::move(options)), rockd_(rockd), random_(options_.seed) {}

TrainerLoad::~TrainerLoad() {
  client_.reset();  // before the proxy it talks through
}

bool TrainerLoad::Connect() {
  proxy_ = std::make_unique<test::TcpProxy>(rockd_.port());
  trainer::ClientOptions client;
  client.port = proxy_->port();
  client.trainer = options_.name;
  client.encoding = options_.msgpack ? trainer::Encoding::kMsgpack : trainer::Encoding::kJson;
  client.credits = std::max(4, options_.in_flight / 2);
  client.backoff_max = milliseconds(500);
  auto created = trainer::TrainerClient::Create(client);
  if (!created.ok()) {
    Problem("TrainerClient: " + std::string(created.status().message()));
    return false;
  }
  client_ = std::move(created).value();
  return true;
}

void TrainerLoad::Run(const std::atomic<bool>& starting, const std::atomic<int64_t>& drain_deadline_ms) {
  while (true) {
    if (NowMs() < stall_until_ms_.load()) {
      std::this_thread::sleep_for(milliseconds(10));
      continue;
    }
    if (starting) {
      while (InFlight() < static_cast<std::size_t>(options_.in_flight)) StartOne();
    } else if (InFlight() == 0 || NowMs() > drain_deadline_ms.load()) {
      break;
    }
    if (std::optional<trainer::Event> event = client_->Next(milliseconds(50))) Handle(*event);
  }
  tally_.stalls = stalls_.load();
  tally_.reconnects = static_cast<uint64_t>(client_->reconnects());
  tally_.starts_resent = static_cast<uint64_t>(client_->starts_resent());
  client_->Close();
}

void TrainerLoad::CutConnection() { proxy_->DropAll(); }

void TrainerLoad::Stall(milliseconds d) {
  stall_until_ms_ = NowMs() + d.count();
  ++stalls_;
}

void TrainerLoad::RockdMoved(uint16_t port) {
  proxy_->SetTarget(port);
  proxy_->DropAll();
}

std::size_t TrainerLoad::InFlight() const { return starts_.size() + live_; }

void TrainerLoad::StartOne() {
  const uint64_t k = next_start_++;
  trainer::StartRequest request;
  const bool swebench = options_.swebench_every > 0 && k % options_.swebench_every == 0;
  request.env = swebench ? "swebench" : "alfworld";
  if (swebench) request.task = {{"instance_id", kSwebenchInstance}};
  request.seed = options_.seed * 1'000'003 + k;
  request.max_steps = swebench ? 3 : 2 + static_cast<int>(k % 7);
  request.group = options_.name + "-" + std::to_string(k);
  starts_[client_->Start(request)] = request.group;
  ++tally_.starts;
}

void TrainerLoad::Handle(const trainer::Event& event) {
  switch (event.type) {
    case trainer::Event::Type::kConnected:
    case trainer::Event::Type::kDisconnected:
      return;
    case trainer::Event::Type::kObs:
      return OnObs(event.body);
    case trainer::Event::Type::kTrajectory:
      return OnTrajectory(event.body);
    case trainer::Event::Type::kError:
      return OnError(event.body);
  }
}

void TrainerLoad::OnObs(const json& obs) {
  ++tally_.steps;
  const std::string id = obs.value("episode", "");
  const int step = obs.value("step", -1);
  const json info = obs.value("info", json::object());
  auto it = episodes_.find(id);
  if (it == episodes_.end()) {
    if (step != 0) return Problem("obs of step " + std::to_string(step) + " of unknown episode " + id);
    const auto req = obs.find("req");
    if (req == obs.end() || !req->is_number_unsigned() || starts_.erase(req->get<uint64_t>()) == 0) {
      return Problem("step-0 obs of episode " + id + " answers no start: " + obs.value("req", json()).dump());
    }
    it = episodes_.emplace(id, Episode{info.contains("instance_id") ? "swebench" : "alfworld"}).first;
    ++tally_.episodes;
    ++live_;
  }
  if (it->second.end != Episode::End::kNone) return Problem("obs of ended episode " + id);
  if (obs.value("terminated", false) || obs.value("truncated", false)) return;
  client_->Act(id, step + 1, ChooseAction(it->second, step, info), 0, {});
}

std::string TrainerLoad::ChooseAction(const Episode& episode, int step, const json& info) {
  if (episode.env == "swebench") {
    return step == 0 ? json{{"tool", "bash"}, {"command", "ls"}}.dump() : json{{"tool", "submit"}}.dump();
  }
  const auto commands = info.find("admissible_commands");
  if (commands == info.end() || !commands->is_array() || commands->empty()) return "look";
  const json& pick = (*commands)[random_() % commands->size()];
  return pick.is_string() ? pick.get<std::string>() : "look";
}

void TrainerLoad::OnTrajectory(const json& trajectory) {
  const uint64_t seq = trajectory.value("seq", uint64_t{0});
  const std::string id = trajectory.value("episode", "");
  client_->Ack(seq);
  if (!seqs_.insert(seq).second) {
    ++tally_.duplicates;
    return Problem("seq " + std::to_string(seq) + " handed over twice");
  }
  ++tally_.trajectories;
  ++tally_.statuses[trajectory.value("status", "?")];
  const auto it = episodes_.find(id);
  if (it == episodes_.end()) return Problem("trajectory of episode " + id + ", never started");
  if (it->second.end != Episode::End::kNone) {
    ++tally_.duplicates;
    return Problem("episode " + id + " ended twice");
  }
  it->second.end = Episode::End::kTrajectory;
  --live_;
}

void TrainerLoad::OnError(const json& error) {
  const std::string code = error.value("code", "?");
  ++tally_.errors[code];
  if (const auto req = error.find("req"); req != error.end() && req->is_number_unsigned()) {
    // A start refused (its queue timed out while sandboxes were being killed, say): answered.
    starts_.erase(req->get<uint64_t>());
    return;
  }
  const std::string id = error.value("episode", "");
  const auto it = episodes_.find(id);
  if (it == episodes_.end()) return Problem("error " + error.dump());
  if (code == "episode_lost" && it->second.end == Episode::End::kNone) {
    it->second.end = Episode::End::kLostWithRockd;
    --live_;
    return;
  }
  // An act that reached the new rockd before the loss was reported is not_found there.
  if (it->second.end == Episode::End::kLostWithRockd && code == "not_found") return;
  Problem("error " + error.dump());
}

void TrainerLoad::Problem(std::string what) {
  if (tally_.problems.size() < kProblemsKept) tally_.problems.push_back(options_.name + ": " + std::move(what));
}

void TrainerLoad::Reconcile(const std::string& data_dir) {
  SQLite::Database db(data_dir + "/rockd.db", SQLite::OPEN_READONLY);
  // Every trajectory rockd committed for this trainer was handed over exactly once.
  SQLite::Statement committed(db, "SELECT seq, episode_id FROM trajectories WHERE trainer = ?");
  committed.bind(1, options_.name);
  std::set<uint64_t> stored;
  while (committed.executeStep()) {
    const auto seq = static_cast<uint64_t>(committed.getColumn(0).getInt64());
    stored.insert(seq);
    if (!seqs_.contains(seq)) {
      ++tally_.lost;
      Problem("trajectory " + std::to_string(seq) + " of episode " + committed.getColumn(1).getString() +
              " was committed and never handed over");
    }
  }
  for (uint64_t seq : seqs_) {
    if (!stored.contains(seq)) Problem("handed-over seq " + std::to_string(seq) + " is not in the database");
  }
  // Every episode seen ended in a trajectory, or in an "episode_lost" that the database backs.
  SQLite::Statement state(db, "SELECT status, end_reason FROM episodes WHERE id = ?");
  for (const auto& [id, episode] : episodes_) {
    if (episode.end == Episode::End::kTrajectory) continue;
    state.reset();
    state.bind(1, id);
    const bool stored_row = state.executeStep();
    const std::string as_stored = stored_row ? state.getColumn(0).getString() + " (" + state.getColumn(1).getString() + ")"
                                          : "not stored";
    if (episode.end == Episode::End::kLostWithRockd && (!stored_row || as_stored == "failed (rockd restarted)")) {
      ++tally_.episodes_lost_with_rockd;
      continue;
    }
    ++tally_.lost;
    Problem("episode " + id + (episode.end == Episode::End::kNone ? " never ended" : " was reported lost") +
            "; rockd.db: " + as_stored);
  }
  for (const auto& [req, group] : starts_) {
    ++tally_.lost;
    Problem("start " + std::to_string(req) + " (group " + group + ") was never answered");
  }
}

}  // namespace rock::soak
