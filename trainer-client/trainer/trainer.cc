#include "trainer-client/trainer/trainer.h"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "trainer-client/client/trainer_client.h"
#include "trainer-client/policy/candidate_policy.h"
#include "trainer-client/policy/checkpoint.h"
#include "trainer-client/policy/cpu_backend.h"
#include "trainer-client/policy/generator.h"
#include "trainer-client/policy/tokenizer.h"
#include "trainer-client/rl/advantages.h"
#include "trainer-client/rl/staleness.h"
#include "trainer-client/trainer/learner.h"
#include "trainer-client/trainer/prompt.h"

namespace rock::trainer {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kCheckpointFile[] = "policy.ckpt";
constexpr char kStateFile[] = "trainer-state.json";

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// User + system CPU time of this process so far: the budget a learning curve cost.
double CpuSeconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A finished episode of a group, with what training needs.
struct Member {
  std::string episode;
  uint64_t seq = 0;
  std::vector<Sample> samples;
  std::vector<double> rewards;
  double episode_return = 0.0;
  bool success = false;
};

struct Group {
  uint64_t id = 0;
  size_t client = 0;
  std::string type;      // ALFWorld task type, else the env kind
  int start_near_goal = 0;  // --curriculum: expert commands left at the start; 0: the task's start
  int expected = 0;      // episodes started: n + redundancy
  int accounted = 0;     // of them, trajectories received
  uint64_t req = 0;
  std::vector<Member> members;

  // The policy version of the group's oldest action: the learner trains the oldest groups first.
  int64_t OldestVersion(int64_t current) const {
    int64_t oldest = current;
    for (const Member& m : members) {
      for (const Sample& s : m.samples) oldest = std::min(oldest, s.version);
    }
    return oldest;
  }
};


struct Episode {
  uint64_t group = 0;
  Transcript transcript;
  std::vector<Sample> samples;
  std::vector<std::string> actions;
};

// What the trainer keeps per endpoint: its connection and the bookkeeping of its trajectories.
struct Stream {
  std::unique_ptr<TrainerClient> client;
  std::map<uint64_t, uint64_t> req_to_group;
  std::set<uint64_t> unconsumed;          // handed over, not consumed
  std::set<uint64_t> consumed_above_ack;  // consumed, but an older one is not yet
  std::set<uint64_t> skip;                // consumed by an earlier run above its ack point
  uint64_t highest_seq = 0;
  uint64_t acked = 0;
};

// An obs that waits for the policy.
struct Decision {
  size_t client = 0;
  std::string episode;
  int step = 0;  // of the act to send
  std::vector<std::string> commands;
  std::string expert;  // the env's expert's command (info.expert_action), when it gave one
};

}  // namespace

struct Trainer::State {
  TrainerOptions options;
  PromptLimits limits;
  bool alfworld = false;
  std::vector<Stream> streams;  // one per --endpoint

  policy::CpuBackend backend;
  std::unique_ptr<policy::Tokenizer> tokenizer;  // the actor encodes and decodes; checkpoints save it
  std::unique_ptr<policy::Model> learner_model;
  std::unique_ptr<policy::AdamW> optimizer;
  std::unique_ptr<Learner> learner;
  rl::RunningBaseline baseline;  // --algo ppo
  std::unique_ptr<policy::Model> actor_model;  // the actor's copy; only the actor thread reads it
  std::mt19937_64 actor_rng;

  // Published weights: the learner's newest, for the actor to take.
  std::mutex weights_mu;
  std::vector<float> published;
  std::atomic<int64_t> version{0};
  int64_t actor_version = 0;

  // Shared by the actor and the learner.
  std::mutex mu;
  std::condition_variable ready_cv;
  std::map<uint64_t, Group> groups;
  std::deque<Group> ready;
  std::map<std::string, Episode> episodes;
  uint64_t next_group = 1;
  uint64_t next_task_seed = 0;
  int64_t episodes_started = 0;  // training episodes (group_size per group), for the gate
  size_t next_client = 0;

  // Totals.
  int64_t consumed = 0, trained = 0, stale = 0, unused = 0, orphaned = 0, acts = 0, stale_actions = 0;
  json curve = json::array();
  std::ofstream ledger;
  Clock::time_point started = Clock::now();
  Status failure;

  // The trajectory totals, as the checkpoint and the summary write them.
  static std::array<std::pair<const char*, int64_t State::*>, 5> Totals() {
    return {{{"consumed", &State::consumed},
             {"trained", &State::trained},
             {"stale", &State::stale},
             {"unused", &State::unused},
             {"orphaned", &State::orphaned}}};
  }
  json TotalsJson() const {
    json out = json::object();
    for (const auto& [key, member] : Totals()) out[key] = this->*member;
    return out;
  }
  // Under mu: the tokens of the prompt for an episode's next action.
  std::vector<int> PromptTokens(const std::string& episode) {
    return tokenizer->Encode(BuildPrompt(episodes.at(episode).transcript, limits), true);
  }
  Status LoadCheckpoint();
  Status SaveCheckpoint();
  void StartGroups();
  // Under mu: a group member that will never report.
  void MemberLost(uint64_t group_id);
  void HandleEvent(size_t client, Event event, std::vector<Decision>* decisions);
  void HandleObs(size_t client, const json& obs, std::vector<Decision>* decisions);
  void HandleTrajectory(size_t client, const json& trajectory);
  Status Decide(std::vector<Decision>& decisions);
  Status DecideByScore(const Decision& decision, Episode& episode, const std::vector<int>& prompt);
  Status DecideByGeneration(std::vector<Decision>& decisions);
  void RefreshActor();
  // Under mu: a trajectory is done with (counted and in the ledger), then AdvanceAck.
  void Consume(size_t client, uint64_t seq, const std::string& episode, const std::string& use);
  // Under mu: acks what is consumed up to the oldest unconsumed trajectory, releases the rest.
  void AdvanceAck(Stream& stream, uint64_t seq);
  // Under mu: moves a group whose members have all reported to the learner's queue.
  void ReadyIfComplete(std::map<uint64_t, Group>::iterator group);
  Status LearnOnce(std::vector<Group> batch);
  void ActorLoop(const std::atomic<bool>& stop);
  bool Done(const std::atomic<bool>& stop) const;
};

StatusOr<std::unique_ptr<Trainer>> Trainer::Create(TrainerOptions options) {
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  const TrainerOptions& o = state->options;
  state->limits = {o.history, o.obs_bytes, o.prompt_bytes};
  state->alfworld = o.env == "alfworld";
  state->actor_rng.seed(o.seed * 0x9E3779B97F4A7C15ull + 1);
  state->tokenizer = std::make_unique<policy::Tokenizer>(o.model.vocab_size);
  auto learner_model = policy::Model::Create(state->backend, o.model, o.seed);
  if (!learner_model.ok()) return learner_model.status().WithContext("learner model");
  state->learner_model = std::move(*learner_model);
  auto actor_model = policy::Model::Create(state->backend, o.model, o.seed);
  if (!actor_model.ok()) return actor_model.status().WithContext("actor model");
  state->actor_model = std::move(*actor_model);
  state->optimizer = std::make_unique<policy::AdamW>(*state->learner_model, o.adamw);
  state->learner = std::make_unique<Learner>(
      *state->learner_model, *state->optimizer,
      LearnerConfig{o.loss, o.ppo_epochs, o.temperature, o.imitation, o.lm_loss});
  const size_t n = o.endpoints.size();
  state->streams.resize(n);
  if (!o.checkpoint_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.checkpoint_dir, ec);
    if (ec) return IoError("create --checkpoint-dir " + o.checkpoint_dir + ": " + ec.message());
    if (Status s = state->LoadCheckpoint(); !s.ok()) return s;
  }
  if (!o.ledger.empty()) {
    state->ledger.open(o.ledger, std::ios::app);
    if (!state->ledger) return IoError("open --ledger " + o.ledger);
  }
  const int window = o.credits > 0 ? o.credits
                                   : (o.alpha + 2) * o.batch_groups * (o.group_size + o.redundancy) + 16;
  for (size_t i = 0; i < n; i++) {
    ClientOptions co;
    co.host = o.endpoints[i].host;
    co.port = o.endpoints[i].port;
    co.token = o.token;
    co.trainer = n == 1 ? o.name : o.name + "-" + std::to_string(i);
    co.encoding = o.encoding;
    co.credits = window;
    co.resume_after_seq = state->streams[i].acked;
    auto client = TrainerClient::Create(co);
    if (!client.ok()) return client.status().WithContext("endpoint " + co.host + ":" + std::to_string(co.port));
    state->streams[i].client = std::move(*client);
  }
  state->published = state->learner_model->DownloadParams();
  if (Status s = state->actor_model->UploadParams(state->published); !s.ok()) return s;
  state->actor_version = state->version.load();
  return std::unique_ptr<Trainer>(new Trainer(std::move(state)));
}

Trainer::Trainer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Trainer::~Trainer() = default;

Status Trainer::State::LoadCheckpoint() {
  const std::filesystem::path dir(options.checkpoint_dir);
  if (!std::filesystem::exists(dir / kStateFile)) return Status::Ok();
  auto checkpoint = policy::LoadCheckpoint((dir / kCheckpointFile).string());
  if (!checkpoint.ok()) return checkpoint.status().WithContext("resume");
  if (Status s = policy::Restore(*checkpoint, *learner_model, *optimizer, *tokenizer); !s.ok()) {
    return s.WithContext("resume from " + options.checkpoint_dir +
                         " (run with the model flags it was saved with, or another --checkpoint-dir)");
  }
  std::ifstream in(dir / kStateFile);
  const json saved = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!saved.is_object() || !saved.contains("version") || !saved.contains("clients") ||
      !saved["clients"].is_array() || saved["clients"].size() != options.endpoints.size()) {
    return Corruption((dir / kStateFile).string() + ": not a trainer state for " +
                      std::to_string(options.endpoints.size()) + " endpoint(s)");
  }
  version = saved["version"].get<int64_t>();
  next_task_seed = saved.value("next_task_seed", uint64_t{0});
  next_group = saved.value("next_group", uint64_t{1});
  const json totals = saved.value("totals", json::object());
  for (const auto& [key, member] : Totals()) this->*member = totals.value(key, int64_t{0});
  for (size_t i = 0; i < options.endpoints.size(); i++) {
    const json& c = saved["clients"][i];
    streams[i].acked = c.value("acked", uint64_t{0});
    streams[i].highest_seq = streams[i].acked;
    for (const json& seq : c.value("consumed_above_ack", json::array())) streams[i].skip.insert(seq.get<uint64_t>());
  }
  // Episodes per version as if this run had started them all: the gate goes on where it was.
  episodes_started = version * options.batch_groups * options.group_size;
  if (!options.quiet) {
    std::fprintf(stderr, "rock-trainer: resumed version %lld from %s\n", static_cast<long long>(version.load()),
                 options.checkpoint_dir.c_str());
  }
  return Status::Ok();
}

Status Trainer::State::SaveCheckpoint() {
  if (options.checkpoint_dir.empty()) return Status::Ok();
  const std::filesystem::path dir(options.checkpoint_dir);
  if (Status s = policy::SaveCheckpoint((dir / kCheckpointFile).string(), policy::Capture(*learner_model, *optimizer, *tokenizer));
      !s.ok()) {
    return s;
  }
  json saved = {{"version", version.load()},
                {"next_task_seed", next_task_seed},
                {"next_group", next_group},
                {"totals", TotalsJson()},
                {"clients", json::array()}};
  for (size_t i = 0; i < streams.size(); i++) {
    saved["clients"].push_back({{"acked", streams[i].acked}, {"consumed_above_ack", streams[i].consumed_above_ack}});
  }
  const std::filesystem::path tmp = dir / (std::string(kStateFile) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << saved.dump(1) << "\n";
    if (!out.flush()) return IoError("write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, dir / kStateFile, ec);
  if (ec) return IoError("rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

void Trainer::State::StartGroups() {
  const TrainerOptions& o = options;
  const int64_t batch_episodes = static_cast<int64_t>(o.batch_groups) * o.group_size;
  while (rl::MayStartEpisode(episodes_started, version.load(), o.alpha, batch_episodes)) {
    StartRequest request;
    request.env = o.env;
    request.task = o.task;
    std::string type = o.env;
    const uint64_t seed = next_task_seed++;
    if (alfworld) {
      type = o.task_types[seed % o.task_types.size()];
      request.task["type"] = type;
      request.task["seed"] = seed;
      request.task["reward"] = o.reward;
      if (o.imitation > 0.0) request.task["expert"] = true;
    }
    // --curriculum N: group g starts N - (g mod (N + 1)) expert commands from the goal, so the
    // groups cycle N, N-1, ..., 1 and then 0, the task's own start.
    const int level =
        alfworld && o.curriculum > 0 ? o.curriculum - static_cast<int>(next_group % (o.curriculum + 1)) : 0;
    if (level > 0) request.task["start_near_goal"] = level;
    request.seed = seed;
    if (o.max_steps > 0) request.max_steps = o.max_steps;
    request.n = o.group_size;
    request.redundancy = o.redundancy;
    request.policy_version = version.load();
    const size_t client = next_client++ % streams.size();
    Group group;
    group.id = next_group++;
    group.client = client;
    group.type = type;
    group.start_near_goal = level;
    group.expected = o.group_size + o.redundancy;
    group.req = streams[client].client->Start(request);
    streams[client].req_to_group[group.req] = group.id;
    groups.emplace(group.id, std::move(group));
    episodes_started += o.group_size;
  }
}

void Trainer::State::MemberLost(uint64_t group_id) {
  auto group = groups.find(group_id);
  if (group == groups.end()) return;
  group->second.expected--;
  ReadyIfComplete(group);
}

void Trainer::State::ReadyIfComplete(std::map<uint64_t, Group>::iterator group) {
  if (group->second.accounted < group->second.expected) return;
  ready.push_back(std::move(group->second));
  groups.erase(group);
  ready_cv.notify_all();
}

void Trainer::State::Consume(size_t client, uint64_t seq, const std::string& episode, const std::string& use) {
  consumed++;
  if (ledger.is_open()) {
    ledger << json{{"seq", seq}, {"endpoint", client}, {"episode", episode}, {"use", use}, {"version", version.load()}}.dump()
           << "\n";
    ledger.flush();
  }
  AdvanceAck(streams[client], seq);
}

void Trainer::State::AdvanceAck(Stream& stream, uint64_t seq) {
  stream.unconsumed.erase(seq);
  stream.consumed_above_ack.insert(seq);
  // Acks are cumulative: everything up to the oldest trajectory still waiting for its group.
  const uint64_t upto = stream.unconsumed.empty() ? stream.highest_seq : *stream.unconsumed.begin() - 1;
  if (upto > stream.acked) {
    stream.acked = upto;
    stream.client->Ack(upto);
    stream.consumed_above_ack.erase(stream.consumed_above_ack.begin(), stream.consumed_above_ack.upper_bound(upto));
  }
  // Above the ack point (an older trajectory waits for its group): hand its credit back, or
  // a slow group would hold the whole window and starve itself of the trajectory it waits for.
  if (seq > stream.acked) stream.client->Release(seq);
}

void Trainer::State::HandleEvent(size_t client, Event event, std::vector<Decision>* decisions) {
  switch (event.type) {
    case Event::Type::kObs:
      HandleObs(client, event.body, decisions);
      break;
    case Event::Type::kTrajectory:
      HandleTrajectory(client, event.body);
      break;
    case Event::Type::kError: {
      if (!options.quiet) std::fprintf(stderr, "rock-trainer: rockd error: %s\n", event.body.dump().c_str());
      // A member of a start that failed to start sends one error with the start's req; an
      // episode a killed rockd took along, one "episode_lost" with its id.
      const json req = event.body.value("req", json());
      std::lock_guard lock(mu);
      if (req.is_number_integer()) {
        const auto group = streams[client].req_to_group.find(req.get<uint64_t>());
        if (group != streams[client].req_to_group.end()) MemberLost(group->second);
      } else if (event.body.value("code", "") == "episode_lost") {
        const auto episode = episodes.find(event.body.value("episode", ""));
        if (episode != episodes.end()) {
          const uint64_t group = episode->second.group;
          episodes.erase(episode);
          MemberLost(group);
        }
      }
      break;
    }
    case Event::Type::kDisconnected:
    case Event::Type::kConnected:
      if (!options.quiet) {
        std::fprintf(stderr, "rock-trainer: endpoint %zu %s %s\n", client,
                     event.type == Event::Type::kConnected ? "connected" : "disconnected", event.body.dump().c_str());
      }
      break;
  }
}

void Trainer::State::HandleObs(size_t client, const json& obs, std::vector<Decision>* decisions) {
  const std::string id = obs.value("episode", "");
  const int step = obs.value("step", -1);
  const json info = obs.value("info", json::object());
  std::lock_guard lock(mu);
  auto it = episodes.find(id);
  if (step == 0 && it == episodes.end()) {
    const json req = obs.value("req", json());
    const auto group = req.is_number_unsigned() || req.is_number_integer()
                           ? streams[client].req_to_group.find(req.get<uint64_t>())
                           : streams[client].req_to_group.end();
    if (group == streams[client].req_to_group.end()) {
      streams[client].client->Cancel(id);  // started by an earlier run of this trainer
      return;
    }
    Episode episode;
    episode.group = group->second;
    episode.transcript.task = info.value("task", "");
    episode.transcript.turns.push_back({"", obs.value("observation", "")});
    it = episodes.emplace(id, std::move(episode)).first;
  } else if (it == episodes.end()) {
    streams[client].client->Cancel(id);
    return;
  } else {
    const std::vector<std::string>& actions = it->second.actions;
    it->second.transcript.turns.push_back({actions.empty() ? "" : actions.back(), obs.value("observation", "")});
  }
  if (obs.value("terminated", false) || obs.value("truncated", false)) return;
  Decision decision{client, id, step + 1, {}, {}};
  if (const auto expert = info.find("expert_action"); expert != info.end() && expert->is_string()) {
    decision.expert = expert->get<std::string>();
  }
  if (info.contains("admissible_commands") && info["admissible_commands"].is_array()) {
    for (const json& c : info["admissible_commands"]) {
      if (c.is_string()) decision.commands.push_back(c.get<std::string>());
    }
  }
  decisions->push_back(std::move(decision));
}

void Trainer::State::HandleTrajectory(size_t client, const json& trajectory) {
  const uint64_t seq = trajectory.value("seq", uint64_t{0});
  const std::string id = trajectory.value("episode", "");
  const std::string status = trajectory.value("status", "");
  std::lock_guard lock(mu);
  streams[client].highest_seq = std::max(streams[client].highest_seq, seq);
  if (streams[client].skip.erase(seq) > 0) {
    // Consumed before the restart, above that run's last ack: it only moves the ack on.
    AdvanceAck(streams[client], seq);
    return;
  }
  streams[client].unconsumed.insert(seq);
  auto it = episodes.find(id);
  if (it == episodes.end()) {
    orphaned++;
    Consume(client, seq, id, "orphan");
    return;
  }
  Episode episode = std::move(it->second);
  episodes.erase(it);
  auto group = groups.find(episode.group);
  if (group == groups.end()) {  // cannot happen: a group lives until all its members reported
    orphaned++;
    Consume(client, seq, id, "orphan");
    return;
  }
  group->second.accounted++;
  const json steps = trajectory.value("steps", json::array());
  if ((status == "terminated" || status == "truncated") && steps.size() == episode.samples.size()) {
    Member member;
    member.episode = id;
    member.seq = seq;
    member.samples = std::move(episode.samples);
    for (const json& s : steps) member.rewards.push_back(s.value("reward", 0.0));
    member.episode_return = trajectory.value("return", 0.0);
    member.success = status == "terminated";
    group->second.members.push_back(std::move(member));
  } else {
    unused++;
    Consume(client, seq, id, "unused:" + status);
  }
  ReadyIfComplete(group);
}

void Trainer::State::RefreshActor() {
  if (actor_version == version.load()) return;
  std::lock_guard lock(weights_mu);
  if (Status s = actor_model->UploadParams(published); !s.ok()) {
    failure = s.WithContext("actor weights");
    return;
  }
  actor_version = version.load();
}

Status Trainer::State::DecideByScore(const Decision& decision, Episode& episode, const std::vector<int>& prompt_in) {
  const int max_seq = options.model.max_seq;
  std::vector<std::vector<int>> candidates;
  size_t longest = 0;
  for (const std::string& command : decision.commands) {
    std::vector<int> tokens = tokenizer->Encode(ActionText(command));
    tokens.resize(std::min(tokens.size(), static_cast<size_t>(max_seq / 2)));
    longest = std::max(longest, tokens.size());
    candidates.push_back(std::move(tokens));
  }
  std::vector<int> prompt = prompt_in;
  if (prompt.size() + longest > static_cast<size_t>(max_seq)) {
    // Keep BOS and the newest text.
    const size_t excess = prompt.size() + longest - static_cast<size_t>(max_seq);
    prompt.erase(prompt.begin() + 1, prompt.begin() + 1 + static_cast<std::ptrdiff_t>(excess));
  }
  std::vector<uint64_t> matches;
  if (options.model.match_slots > 0) {
    matches = policy::TaskMatches(candidates, tokenizer->Encode(episode.transcript.task), options.model.match_slots);
  }
  auto log_pi = policy::CandidateLogPolicy(*actor_model, prompt, candidates, options.temperature, matches);
  if (!log_pi.ok()) return log_pi.status().WithContext("score");
  const int chosen = policy::SampleCandidate(*log_pi, actor_rng);
  Sample sample;
  sample.prompt = std::move(prompt);
  sample.candidates = std::move(candidates);
  sample.matches = std::move(matches);
  sample.chosen = chosen;
  if (!decision.expert.empty()) {
    const auto expert = std::find(decision.commands.begin(), decision.commands.end(), decision.expert);
    if (expert != decision.commands.end()) sample.expert = static_cast<int>(expert - decision.commands.begin());
  }
  sample.behaviour = {static_cast<float>((*log_pi)[static_cast<size_t>(chosen)])};
  sample.version = actor_version;
  const std::string& action = decision.commands[static_cast<size_t>(chosen)];
  streams[decision.client].client->Act(decision.episode, decision.step, action, actor_version, sample.behaviour);
  episode.samples.push_back(std::move(sample));
  episode.actions.push_back(action);
  return Status::Ok();
}

Status Trainer::State::DecideByGeneration(std::vector<Decision>& decisions) {
  if (decisions.empty()) return Status::Ok();
  auto generator = policy::Generator::Create(*actor_model, static_cast<int>(std::min<size_t>(decisions.size(), 32)),
                                             actor_rng());
  if (!generator.ok()) return generator.status();
  std::map<uint64_t, size_t> by_id;
  std::vector<std::vector<int>> prompts(decisions.size());
  for (size_t i = 0; i < decisions.size(); i++) {
    {
      std::lock_guard lock(mu);
      prompts[i] = PromptTokens(decisions[i].episode);
    }
    const policy::SamplingParams params{.temperature = options.sample_temperature,
                                        .top_p = 1.0f,
                                        .max_new_tokens = options.gen_tokens,
                                        .stop_token = '\n'};
    auto id = (*generator)->Submit(prompts[i], params);
    if (!id.ok()) return id.status().WithContext("generate");
    by_id[*id] = i;
  }
  auto completions = (*generator)->RunToCompletion();
  if (!completions.ok()) return completions.status();
  for (policy::Completion& completion : *completions) {
    const size_t i = by_id.at(completion.id);
    const Decision& decision = decisions[i];
    std::string action = tokenizer->Decode(completion.tokens);
    if (!action.empty() && action.back() == '\n') action.pop_back();
    Sample sample;
    sample.prompt = std::move(prompts[i]);
    sample.behaviour = completion.logprobs;
    sample.candidates = {std::move(completion.tokens)};
    sample.generated = true;
    sample.version = actor_version;
    streams[decision.client].client->Act(decision.episode, decision.step, action, actor_version, sample.behaviour);
    std::lock_guard lock(mu);
    Episode& episode = episodes.at(decision.episode);
    episode.samples.push_back(std::move(sample));
    episode.actions.push_back(action);
  }
  return Status::Ok();
}

Status Trainer::State::Decide(std::vector<Decision>& decisions) {
  std::vector<Decision> generate;
  for (Decision& decision : decisions) {
    const bool score = options.action == ActionMode::kScore ||
                       (options.action == ActionMode::kAuto && !decision.commands.empty());
    if (!score) {
      generate.push_back(std::move(decision));
      continue;
    }
    if (decision.commands.empty()) {
      return FailedPrecondition("--action score: the obs of episode " + decision.episode + " lists no admissible_commands");
    }
    std::vector<int> prompt;
    Episode* episode = nullptr;
    {
      std::lock_guard lock(mu);
      episode = &episodes.at(decision.episode);
      prompt = PromptTokens(decision.episode);
    }
    // Only the actor thread adds or removes an episode's samples before its trajectory, and the
    // trajectory cannot come before this act is answered.
    if (Status s = DecideByScore(decision, *episode, prompt); !s.ok()) return s;
  }
  acts += static_cast<int64_t>(decisions.size());
  return DecideByGeneration(generate);
}

bool Trainer::State::Done(const std::atomic<bool>& stop) const {
  return stop.load() || !failure.ok() || (options.versions > 0 && version.load() >= options.versions) ||
         (options.time_limit_s > 0 && SecondsSince(started) >= options.time_limit_s);
}

void Trainer::State::ActorLoop(const std::atomic<bool>& stop) {
  bool idle = false;
  while (!Done(stop)) {
    RefreshActor();
    {
      std::lock_guard lock(mu);
      StartGroups();
    }
    std::vector<Decision> decisions;
    for (size_t c = 0; c < streams.size(); c++) {
      const auto wait = std::chrono::milliseconds(c == 0 && idle ? 5 : 0);
      for (auto event = streams[c].client->Next(wait); event; event = streams[c].client->Next(std::chrono::milliseconds(0))) {
        HandleEvent(c, std::move(*event), &decisions);
      }
    }
    idle = decisions.empty();
    if (Status s = Decide(decisions); !s.ok()) {
      std::lock_guard lock(mu);
      failure = s.WithContext("actor");
    }
  }
  ready_cv.notify_all();
}

Status Trainer::State::LearnOnce(std::vector<Group> batch) {
  const TrainerOptions& o = options;
  const int64_t current = version.load();
  std::vector<Sample> samples;
  std::set<uint64_t> trained_seqs;  // members with at least one action fresh enough to train on
  int64_t batch_episodes = 0;
  double reward_sum = 0.0, staleness_sum = 0.0;
  // Return and success count episodes from the task's start only: a curriculum's easy starts
  // would inflate them.
  int64_t successes = 0, from_start = 0, near_goal_successes = 0, stale_now = 0;
  int64_t labelled = 0, agreed = 0;  // actions the expert labelled, and those it would have taken too
  std::map<std::string, std::pair<int, int>> by_type;  // successes, episodes
  for (Group& group : batch) {
    std::vector<double> returns;
    for (const Member& m : group.members) returns.push_back(m.episode_return);
    const std::vector<double> advantages = rl::GroupAdvantages(returns);
    for (size_t i = 0; i < group.members.size(); i++) {
      Member& m = group.members[i];
      const std::vector<double> to_go = rl::RewardsToGo(m.rewards, o.gamma);
      for (size_t t = 0; t < m.samples.size(); t++) {
        // The bound is per action: the actor takes new weights as they come, so the later
        // actions of a long episode are fresh even when its first ones are too old.
        if (!rl::WithinStaleness(m.samples[t].version, current, o.alpha)) {
          stale_now++;
          continue;
        }
        Sample s = m.samples[t];
        s.advantage = o.algorithm == Algorithm::kGrpo
                          ? advantages[i]
                          : baseline.Advantage(group.type + "/" + std::to_string(t), to_go[t]);
        staleness_sum += static_cast<double>(current - s.version);
        if (s.expert >= 0) {
          labelled++;
          agreed += s.expert == s.chosen ? 1 : 0;
        }
        samples.push_back(std::move(s));
        trained_seqs.insert(m.seq);
      }
      batch_episodes++;
      if (group.start_near_goal > 0) {
        near_goal_successes += m.success ? 1 : 0;
        continue;
      }
      from_start++;
      reward_sum += m.episode_return;
      successes += m.success ? 1 : 0;
      by_type[group.type].first += m.success ? 1 : 0;
      by_type[group.type].second += 1;
    }
  }
  const auto update_start = Clock::now();
  auto stats = learner->Update(samples);
  if (!stats.ok()) return stats.status();
  const double update_s = SecondsSince(update_start);
  {
    std::lock_guard lock(weights_mu);
    published = learner_model->DownloadParams();
  }
  version++;

  std::lock_guard lock(mu);
  stale_actions += stale_now;
  for (Group& group : batch) {
    for (const Member& m : group.members) {
      if (trained_seqs.count(m.seq) > 0) {
        trained++;
        Consume(group.client, m.seq, m.episode, "trained");
      } else {
        stale++;
        Consume(group.client, m.seq, m.episode, "stale");
      }
    }
  }
  const double n = std::max<double>(1.0, static_cast<double>(from_start));
  json success_by_type = json::object();
  for (const auto& [type, counts] : by_type) success_by_type[type] = static_cast<double>(counts.first) / counts.second;
  const double elapsed = SecondsSince(started);
  json metrics = {{"step", version.load()},
                  {"policy_version", version.load()},
                  {"success_by_type", success_by_type},
                  {"loss", stats->loss},
                  {"tokens_per_s", update_s > 0 ? static_cast<double>(stats->tokens) / update_s : 0.0},
                  {"staleness", samples.empty() ? 0.0 : staleness_sum / static_cast<double>(samples.size())},
                  {"episodes", batch_episodes},
                  {"stale_actions", stale_now},
                  {"clipped", stats->clipped},
                  {"grad_norm", stats->grad_norm},
                  {"trajectories_per_s", elapsed > 0 ? static_cast<double>(consumed) / elapsed : 0.0},
                  {"elapsed_s", elapsed}};
  metrics["episodes_from_start"] = from_start;
  if (from_start > 0) {
    metrics["reward_mean"] = reward_sum / n;
    metrics["success_rate"] = static_cast<double>(successes) / n;
  }
  if (const int64_t near_goal = batch_episodes - from_start; near_goal > 0) {
    metrics["episodes_near_goal"] = near_goal;
    metrics["success_near_goal"] = static_cast<double>(near_goal_successes) / static_cast<double>(near_goal);
  }
  if (labelled > 0) metrics["expert_agreement"] = static_cast<double>(agreed) / static_cast<double>(labelled);
  if (stats->labelled > 0) metrics["imitation_loss"] = stats->imitation_loss;  // only what was trained
  if (o.lm_loss > 0.0) metrics["lm_loss"] = stats->lm_loss;
  curve.push_back(metrics);
  for (Stream& stream : streams) stream.client->Report(metrics);
  if (!o.quiet) {
    std::fprintf(stderr,
                 "rock-trainer: version %lld  episodes %zu  reward %.3f  success %.3f  loss %.4f  staleness %.2f  "
                 "%.0f tok/s  %.1f traj/s\n",
                 static_cast<long long>(version.load()), static_cast<size_t>(batch_episodes), reward_sum / n,
                 static_cast<double>(successes) / n, stats->loss, metrics["staleness"].get<double>(),
                 metrics["tokens_per_s"].get<double>(), metrics["trajectories_per_s"].get<double>());
  }
  if (version.load() % o.checkpoint_every == 0) return SaveCheckpoint();
  return Status::Ok();
}

Status Trainer::Run(const std::atomic<bool>& stop) {
  State& s = *state_;
  s.started = Clock::now();
  std::thread actor([&] { s.ActorLoop(stop); });
  Status result;
  while (!s.Done(stop)) {
    std::vector<Group> batch;
    {
      std::unique_lock lock(s.mu);
      s.ready_cv.wait_for(lock, std::chrono::milliseconds(100), [&] {
        return static_cast<int>(s.ready.size()) >= s.options.batch_groups;
      });
      if (static_cast<int>(s.ready.size()) < s.options.batch_groups) continue;
      // The oldest groups first: a group that waits while younger ones train may go stale.
      const int64_t current = s.version.load();
      std::stable_sort(s.ready.begin(), s.ready.end(), [&](const Group& a, const Group& b) {
        return a.OldestVersion(current) < b.OldestVersion(current);
      });
      for (int i = 0; i < s.options.batch_groups; i++) {
        batch.push_back(std::move(s.ready.front()));
        s.ready.pop_front();
      }
    }
    if (Status st = s.LearnOnce(std::move(batch)); !st.ok()) {
      std::lock_guard lock(s.mu);
      s.failure = st.WithContext("learner");
    }
  }
  actor.join();
  {
    std::lock_guard lock(s.mu);
    result = s.failure;
  }
  if (Status saved = s.SaveCheckpoint(); result.ok() && !saved.ok()) result = saved;
  if (!s.options.summary.empty()) {
    std::ofstream out(s.options.summary, std::ios::trunc);
    out << Summary().dump(1) << "\n";
    if (!out.flush() && result.ok()) result = IoError("write --summary " + s.options.summary);
  }
  for (Stream& stream : s.streams) stream.client->Close();
  return result;
}

json Trainer::Summary() const {
  const State& s = *state_;
  const double elapsed = SecondsSince(s.started);
  return {{"versions", s.version.load()},
          {"elapsed_s", elapsed},
          {"cpu_s", CpuSeconds()},
          {"acts", s.acts},
          {"trajectories", s.TotalsJson()},
          {"stale_actions", s.stale_actions},
          {"trajectories_per_s", elapsed > 0 ? static_cast<double>(s.consumed) / elapsed : 0.0},
          {"trained_per_s", elapsed > 0 ? static_cast<double>(s.trained) / elapsed : 0.0},
          {"alpha", s.options.alpha},
          {"vocabulary_words", s.tokenizer->Words().size()},
          {"curve", s.curve}};
}

}  // namespace rock::trainer
