#include "trainer-client/trainer/options.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>

#include "trainer-client/policy/tokenizer.h"

namespace rock::trainer {
namespace {

const std::vector<std::string> kAlfworldTaskTypes = {
    "pick_and_place_simple",          "look_at_obj_in_light",         "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",  "pick_cool_then_place_in_recep", "pick_two_obj_and_place"};

StatusOr<Endpoint> ParseEndpoint(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return InvalidArgument("--endpoint " + text + ": expected HOST:PORT");
  const std::string port = text.substr(colon + 1);
  char* end = nullptr;
  const unsigned long value = std::strtoul(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || value == 0 || value > 65535) {
    return InvalidArgument("--endpoint " + text + ": port must be 1-65535");
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);  // [::1]
  return Endpoint{host, static_cast<uint16_t>(value)};
}

}  // namespace

StatusOr<TrainerOptions> ParseOptions(int argc, char** argv) {
  TrainerOptions o;
  CLI::App app{
      "rock-trainer: asynchronous GRPO/PPO against rockd's trainer stream (/ws/trainer). It plays "
      "groups of episodes, acts with its own Llama-architecture policy, learns from every "
      "trajectory once and reports its progress to rockd's dashboard."};
  app.get_formatter()->column_width(34);

  std::vector<std::string> endpoints{"127.0.0.1:8080"};
  app.add_option("--endpoint", endpoints, "rockd HOST:PORT; repeat for several (groups go round robin)")
      ->capture_default_str()->group("rockd");
  app.add_option("--token", o.token, "bearer token, when rockd has one")->group("rockd");
  app.add_option("--name", o.name, "trainer name: the stream and its trajectories belong to it")
      ->capture_default_str()->group("rockd");
  std::string encoding = "json";
  app.add_option("--encoding", encoding, "frame encoding")->check(CLI::IsMember({"json", "msgpack"}))
      ->capture_default_str()->group("rockd");
  app.add_option("--credits", o.credits, "trajectory credit window; 0: what the asynchronous ratio needs")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("rockd");

  app.add_option("--env", o.env, "env kind to train on (alfworld, bandit, sleepy, ...)")
      ->capture_default_str()->group("episodes");
  std::string task = "{}";
  app.add_option("--task", task, "the task object of every group, as JSON (ALFWorld: type and seed are filled in)")
      ->capture_default_str()->group("episodes");
  std::vector<std::string> types = kAlfworldTaskTypes;
  app.add_option("--task-types", types, "ALFWorld task types the groups cycle through")
      ->check(CLI::IsMember(kAlfworldTaskTypes))->group("episodes");
  app.add_option("--reward", o.reward, "ALFWorld task.reward: progress (the expert plan's, dense) or won")
      ->check(CLI::IsMember({"progress", "won"}))->capture_default_str()->group("episodes");
  app.add_option("--max-steps", o.max_steps, "steps per episode; 0: the env's default")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("episodes");
  app.add_option("--group-size", o.group_size, "episodes per group (one task and seed): GRPO's G")
      ->check(CLI::Range(1, 4096))->capture_default_str()->group("episodes");
  app.add_option("--redundancy", o.redundancy, "extra episodes per group; the slowest are cancelled")
      ->check(CLI::Range(0, 4096))->capture_default_str()->group("episodes");
  app.add_option("--batch-groups", o.batch_groups, "groups per update")
      ->check(CLI::Range(1, 4096))->capture_default_str()->group("episodes");
  app.add_option("--curriculum", o.curriculum,
                 "reverse curriculum (ALFWorld): groups take turns starting N, N-1, ..., 1 expert commands from "
                 "the goal (task.start_near_goal) and at the task's start; success_rate counts only episodes from "
                 "the start; 0: every group at the start")
      ->check(CLI::Range(0, 200))->capture_default_str()->group("episodes");
  app.add_option("--seed", o.seed, "seed of task seeds, sampling and the model's initialization")
      ->capture_default_str()->group("episodes");

  o.model.max_seq = 256;
  app.add_option("--dim", o.model.dim, "model width")->capture_default_str()->group("policy");
  app.add_option("--layers", o.model.n_layers, "transformer blocks")->capture_default_str()->group("policy");
  app.add_option("--heads", o.model.n_heads, "query heads")->capture_default_str()->group("policy");
  app.add_option("--kv-heads", o.model.n_kv_heads, "key/value heads (GQA)")->capture_default_str()->group("policy");
  app.add_option("--hidden", o.model.hidden_dim, "SwiGLU width")->capture_default_str()->group("policy");
  app.add_option("--max-seq", o.model.max_seq, "longest prompt + action in tokens")->capture_default_str()->group("policy");
  app.add_option("--match-slots", o.model.match_slots,
                 "learned gains for the first K tokens of a scored command that also occur in the task text, "
                 "a copy prior for a small policy (policy.md); saved with the checkpoint; 0: none")
      ->check(CLI::Range(0, policy::kMaxMatchSlots))->capture_default_str()->group("policy");
  int vocab_words = 768;  // generated ALFWorld text has a few hundred word pieces
  app.add_option("--vocab-words", vocab_words,
                 "word tokens the tokenizer learns as it meets them (saved with the checkpoint); text "
                 "past them goes byte by byte; 0: bytes only")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str()->group("policy");
  std::string action = "auto";
  app.add_option("--action", action,
                 "score: pick among info.admissible_commands by their log-probs; generate: write the "
                 "action; auto: score when the env lists commands")
      ->check(CLI::IsMember({"auto", "score", "generate"}))->capture_default_str()->group("policy");
  app.add_option("--temperature", o.temperature, "temperature of the policy over candidates")
      ->check(CLI::PositiveNumber)->capture_default_str()->group("policy");
  app.add_option("--sample-temperature", o.sample_temperature, "temperature of generation")
      ->check(CLI::PositiveNumber)->capture_default_str()->group("policy");
  app.add_option("--gen-tokens", o.gen_tokens, "most tokens a generated action has")
      ->check(CLI::Range(1, 4096))->capture_default_str()->group("policy");
  app.add_option("--history", o.history, "earlier turns (action and observation) in the prompt")
      ->check(CLI::Range(0, 64))->capture_default_str()->group("policy");
  app.add_option("--obs-bytes", o.obs_bytes, "bytes of each observation the prompt keeps")
      ->check(CLI::Range(8, 65536))->capture_default_str()->group("policy");
  app.add_option("--prompt-bytes", o.prompt_bytes, "the prompt's byte budget (older turns go first)")
      ->check(CLI::Range(16, 65536))->capture_default_str()->group("policy");

  std::string algorithm = "grpo";
  app.add_option("--algo", algorithm,
                 "grpo: advantages normalized within each group; ppo: rewards-to-go less a running "
                 "baseline per task type")
      ->check(CLI::IsMember({"grpo", "ppo"}))->capture_default_str()->group("learning");
  app.add_option("--alpha", o.alpha, "asynchronous ratio: nothing trains on actions more than alpha versions old; 0: synchronous")
      ->check(CLI::Range(0, 1000))->capture_default_str()->group("learning");
  std::string correction = "tis";
  app.add_option("--correction", correction,
                 "off-policy correction: none (clip against the behaviour policy), decoupled, tis (decoupled, weight capped)")
      ->check(CLI::IsMember({"none", "decoupled", "tis"}))->capture_default_str()->group("learning");
  app.add_option("--imitation", o.imitation,
                 "weight of imitating the env's expert beside the RL loss (DAgger: the policy acts, the expert's "
                 "info.expert_action labels each state; ALFWorld tasks then ask for it with task.expert); 0: pure RL")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("learning");
  app.add_option("--lm-loss", o.lm_loss,
                 "weight of an auxiliary next-token loss on each scored action's prompt (its observations and earlier "
                 "actions repeat names, which teaches the copying that choosing among candidates needs); 0: none")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("learning");
  app.add_option("--is-cap", o.loss.is_cap, "cap of the importance weight for tis")
      ->check(CLI::PositiveNumber)->capture_default_str()->group("learning");
  app.add_option("--clip-eps", o.loss.clip_eps, "PPO clip range")->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()->group("learning");
  app.add_option("--ppo-epochs", o.ppo_epochs, "optimizer steps per batch")->check(CLI::Range(1, 100))
      ->capture_default_str()->group("learning");
  app.add_option("--gamma", o.gamma, "discount of rewards-to-go (ppo)")->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()->group("learning");
  o.adamw.lr = 3e-3f;
  o.adamw.min_lr = 3e-4f;
  o.adamw.warmup_steps = 5;
  o.adamw.total_steps = 2000;
  o.adamw.weight_decay = 0.0f;
  app.add_option("--lr", o.adamw.lr, "peak learning rate; 0 keeps the initial policy (a baseline: near-uniform over candidates)")->check(CLI::NonNegativeNumber)->capture_default_str()->group("learning");
  app.add_option("--min-lr", o.adamw.min_lr, "learning rate at the end of the cosine")->capture_default_str()->group("learning");
  app.add_option("--warmup", o.adamw.warmup_steps, "warm-up steps")->capture_default_str()->group("learning");
  app.add_option("--schedule-steps", o.adamw.total_steps, "steps of the cosine schedule")->capture_default_str()->group("learning");
  app.add_option("--weight-decay", o.adamw.weight_decay, "AdamW decoupled weight decay")->capture_default_str()->group("learning");
  app.add_option("--clip-norm", o.adamw.clip_norm, "gradient norm bound; 0: none")->capture_default_str()->group("learning");

  app.add_option("--versions", o.versions, "stop after this many updates; 0: until SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("run");
  app.add_option("--time-limit", o.time_limit_s, "stop after this many seconds; 0: no limit")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("run");
  app.add_option("--checkpoint-dir", o.checkpoint_dir, "save here, and resume from here when a checkpoint exists")
      ->group("run");
  app.add_option("--checkpoint-every", o.checkpoint_every, "updates between checkpoints")
      ->check(CLI::Range(1, 1000000))->capture_default_str()->group("run");
  app.add_option("--ledger", o.ledger, "append one JSON line per trajectory consumed (seq, episode, what became of it)")
      ->group("run");
  app.add_option("--summary", o.summary, "write the run's totals here as JSON at the end")->group("run");
  app.add_flag("--quiet", o.quiet, "no progress lines on stderr")->group("run");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 has printed the help or the error already.
    return Status(app.exit(e) == 0 ? Code::kAborted : Code::kInvalidArgument, "");
  }

  for (const std::string& text : endpoints) {
    StatusOr<Endpoint> endpoint = ParseEndpoint(text);
    if (!endpoint.ok()) return endpoint.status();
    o.endpoints.push_back(*endpoint);
  }
  // --lr 0 means no learning at all: the cosine would otherwise climb to --min-lr.
  if (o.adamw.lr == 0.0f) o.adamw.min_lr = 0.0f;
  if (o.adamw.min_lr > o.adamw.lr) return InvalidArgument("--min-lr must not exceed --lr");
  o.encoding = encoding == "msgpack" ? Encoding::kMsgpack : Encoding::kJson;
  o.task = nlohmann::json::parse(task, nullptr, /*allow_exceptions=*/false);
  if (!o.task.is_object()) return InvalidArgument("--task: expected a JSON object, got " + task);
  o.task_types = types;
  o.action = action == "score" ? ActionMode::kScore : action == "generate" ? ActionMode::kGenerate : ActionMode::kAuto;
  o.algorithm = algorithm == "ppo" ? Algorithm::kPpo : Algorithm::kGrpo;
  static const std::map<std::string, rl::OffPolicyCorrection> kCorrections = {
      {"none", rl::OffPolicyCorrection::kNone},
      {"decoupled", rl::OffPolicyCorrection::kDecoupled},
      {"tis", rl::OffPolicyCorrection::kTruncatedIs}};
  o.loss.correction = kCorrections.at(correction);
  if (o.imitation > 0.0 && o.action == ActionMode::kGenerate) {
    return InvalidArgument("--imitation trains on scored candidates; it needs --action score or auto");
  }
  if (o.lm_loss > 0.0 && o.action == ActionMode::kGenerate) {
    return InvalidArgument("--lm-loss trains on the prompts of scored candidates; it needs --action score or auto");
  }
  if (o.model.match_slots > 0 && o.action == ActionMode::kGenerate) {
    return InvalidArgument("--match-slots gains the scores of candidates; it needs --action score or auto");
  }
  if (o.curriculum > 0 && o.env != "alfworld") {
    return InvalidArgument("--curriculum starts ALFWorld tasks near their goal; it needs --env alfworld, not " + o.env);
  }
  o.model.vocab_size = policy::Tokenizer::kFirstWord + vocab_words;
  if (Status valid = policy::Validate(o.model); !valid.ok()) return valid.WithContext("model");
  // Every trajectory of every group that may be in flight must fit the window, or groups wait
  // for members that cannot be delivered while their other members hold every credit.
  const int64_t in_flight = static_cast<int64_t>(o.alpha + 1) * o.batch_groups * (o.group_size + o.redundancy);
  if (o.credits > 0 && o.credits < in_flight) {
    return InvalidArgument("--credits " + std::to_string(o.credits) + " is below the " + std::to_string(in_flight) +
                           " trajectories of the (alpha + 1) * batch-groups groups that may be in flight at once");
  }
  // The prompt (and its BOS) must leave room for an action; a longer candidate shortens the prompt.
  if (o.prompt_bytes + 1 + o.gen_tokens > o.model.max_seq) {
    return InvalidArgument("--prompt-bytes (" + std::to_string(o.prompt_bytes) + ") + 1 + --gen-tokens (" +
                           std::to_string(o.gen_tokens) + ") must fit --max-seq (" + std::to_string(o.model.max_seq) + ")");
  }
  return o;
}

}  // namespace rock::trainer
