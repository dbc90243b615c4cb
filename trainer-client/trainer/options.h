// rock-trainer's settings, from its command line (ParseOptions documents every flag in --help).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "trainer-client/client/trainer_client.h"
#include "trainer-client/policy/adamw.h"
#include "trainer-client/policy/config.h"
#include "trainer-client/rl/policy_loss.h"

namespace rock::trainer {

enum class ActionMode { kAuto, kScore, kGenerate };
enum class Algorithm { kGrpo, kPpo };

struct Endpoint {
  std::string host;
  uint16_t port = 0;
};

struct TrainerOptions {
  // rockd
  std::vector<Endpoint> endpoints;  // groups are spread over them round robin
  std::string token;
  std::string name = "rock-trainer";
  Encoding encoding = Encoding::kJson;
  int credits = 0;  // 0: enough for every episode the asynchronous ratio lets run

  // episodes
  std::string env = "alfworld";
  nlohmann::json task = nlohmann::json::object();  // every group's task; ALFWorld gets type and seed
  std::vector<std::string> task_types;             // ALFWorld types the groups cycle through
  std::string reward = "progress";                 // ALFWorld's task.reward
  int max_steps = 0;                               // 0: the env's default
  int group_size = 8;
  int redundancy = 0;
  int batch_groups = 4;
  int curriculum = 0;  // ALFWorld: groups also start 1..curriculum expert commands from the goal
  uint64_t seed = 1;

  // the policy
  policy::ModelConfig model;
  ActionMode action = ActionMode::kAuto;
  double temperature = 0.1;  // of the policy over candidates (their mean token log-prob)
  float sample_temperature = 1.0f;  // of generation
  double imitation = 0.0;    // weight of imitating the env's expert (info.expert_action); 0: none
  double lm_loss = 0.0;      // weight of the auxiliary next-token loss on prompts; 0: none
  int gen_tokens = 8;
  int history = 2;
  int obs_bytes = 96;
  int prompt_bytes = 192;

  // learning
  Algorithm algorithm = Algorithm::kGrpo;
  int alpha = 1;  // the asynchronous ratio; 0 is synchronous training
  rl::PolicyLossConfig loss;
  int ppo_epochs = 1;
  double gamma = 0.95;
  policy::AdamWConfig adamw;

  // the run
  int64_t versions = 0;  // stop after this many updates; 0: run until stopped
  double time_limit_s = 0;
  std::string checkpoint_dir;
  int checkpoint_every = 10;
  std::string ledger;   // a JSON line per trajectory consumed, with what became of it
  std::string summary;  // the run's totals as JSON, written at the end
  bool quiet = false;
};

// Parses argv. On --help (kAborted) and flag errors CLI11 prints its own text and the status
// message is empty; other errors are in the status.
StatusOr<TrainerOptions> ParseOptions(int argc, char** argv);

}  // namespace rock::trainer
