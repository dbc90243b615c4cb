// What the policy reads: the task, then the most recent turns of the episode, ending where the
// action goes. The task and the current turn always show (its observation cut to fit); older
// turns fill what is left. Candidates are scored (or generated) right after the prompt, each ended by a
// newline so that "take apple 1" and "take apple 10" differ.
#pragma once

#include <string>
#include <vector>

namespace rock::trainer {

struct Turn {
  std::string action;       // empty for the reset
  std::string observation;
};

struct Transcript {
  std::string task;         // the env's task text (ALFWorld's info.task); may be empty
  std::vector<Turn> turns;  // the reset first, then one per step
};

struct PromptLimits {
  int history = 2;        // earlier turns shown besides the current one
  int obs_bytes = 96;     // of each observation
  int prompt_bytes = 192; // in all; the oldest turns go first
};

// "task: put a clean apple in fridge\n> go to fridge 1\nYou arrive at fridge 1. ...\n> "
std::string BuildPrompt(const Transcript& transcript, const PromptLimits& limits);

// The text scored or generated after the prompt for `action`.
inline std::string ActionText(const std::string& action) { return action + "\n"; }

}  // namespace rock::trainer
