#include "trainer-client/trainer/prompt.h"

#include <algorithm>

namespace rock::trainer {
namespace {

// Whitespace runs become one space (observations are laid out for people, and every byte costs
// a token), cut to `limit` bytes.
std::string Squeeze(const std::string& text, size_t limit) {
  std::string out;
  bool space = false;
  for (char c : text) {
    const bool is_space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (is_space) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
    if (out.size() >= limit) break;
  }
  if (out.size() > limit) out.resize(limit);
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

std::string BuildPrompt(const Transcript& transcript, const PromptLimits& limits) {
  const size_t budget = static_cast<size_t>(limits.prompt_bytes);
  const size_t obs_bytes = static_cast<size_t>(limits.obs_bytes);
  const std::string head = transcript.task.empty() ? "" : "task: " + Squeeze(transcript.task, budget / 3) + "\n";
  const auto action_line = [](const Turn& turn) { return turn.action.empty() ? "" : "> " + turn.action + "\n"; };
  std::string current;
  if (!transcript.turns.empty()) {
    // The task stays whole: every action is for it. The current observation gets what is left,
    // from its start, where "You arrive at X. On the X, you see ..." is.
    const Turn& turn = transcript.turns.back();
    current = action_line(turn);
    const size_t fixed = head.size() + current.size() + 1 + 2;  // its newline, and "> "
    const size_t room = budget > fixed ? budget - fixed : 0;
    current += Squeeze(turn.observation, std::min(obs_bytes, room)) + "\n";
  }
  // Earlier turns, newest first, while the history and the budget allow.
  std::vector<std::string> earlier;
  size_t used = head.size() + current.size() + 2;
  const int newest = static_cast<int>(transcript.turns.size()) - 1;
  for (int i = newest - 1; i >= 0 && i >= newest - limits.history; i--) {
    const Turn& turn = transcript.turns[static_cast<size_t>(i)];
    std::string text = action_line(turn) + Squeeze(turn.observation, obs_bytes) + "\n";
    if (used + text.size() > budget) break;
    used += text.size();
    earlier.push_back(std::move(text));
  }
  std::string prompt = head;
  for (auto it = earlier.rbegin(); it != earlier.rend(); ++it) prompt += *it;
  prompt += current + "> ";
  // Over budget only when the task and the current action alone are: keep the end.
  if (prompt.size() > budget) prompt.erase(0, prompt.size() - budget);
  return prompt;
}

}  // namespace rock::trainer
