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
  std::string head = transcript.task.empty() ? "" : "task: " + Squeeze(transcript.task, budget / 3) + "\n";
  // Newest turn first, until the history or the budget runs out; the current turn always shows.
  std::vector<std::string> shown;
  size_t used = head.size() + 2;
  const int newest = static_cast<int>(transcript.turns.size()) - 1;
  for (int i = newest; i >= 0 && i >= newest - limits.history; i--) {
    const Turn& turn = transcript.turns[static_cast<size_t>(i)];
    std::string text = (turn.action.empty() ? "" : "> " + turn.action + "\n") + Squeeze(turn.observation, obs_bytes) + "\n";
    if (i != newest && used + text.size() > budget) break;
    used += text.size();
    shown.push_back(std::move(text));
  }
  std::string prompt = std::move(head);
  for (auto it = shown.rbegin(); it != shown.rend(); ++it) prompt += *it;
  prompt += "> ";
  // Over budget only when the current turn alone is: keep its end, where the latest text is.
  if (prompt.size() > budget) prompt.erase(0, prompt.size() - budget);
  return prompt;
}

}  // namespace rock::trainer
