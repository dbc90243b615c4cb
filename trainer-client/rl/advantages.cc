#include "trainer-client/rl/advantages.h"

#include <cmath>

namespace rock::rl {

std::vector<double> GroupAdvantages(std::span<const double> returns, bool scale_by_std, double eps) {
  std::vector<double> advantages(returns.size(), 0.0);
  if (returns.empty()) return advantages;
  double mean = 0.0;
  for (double r : returns) mean += r;
  mean /= static_cast<double>(returns.size());
  double var = 0.0;
  for (double r : returns) var += (r - mean) * (r - mean);
  const double std = std::sqrt(var / static_cast<double>(returns.size()));
  // Equal returns: exactly zero rather than rounding noise divided by eps.
  if (std == 0.0) return advantages;
  for (size_t i = 0; i < returns.size(); i++) {
    advantages[i] = scale_by_std ? (returns[i] - mean) / (std + eps) : returns[i] - mean;
  }
  return advantages;
}

std::vector<double> RewardsToGo(std::span<const double> rewards, double gamma) {
  std::vector<double> to_go(rewards.size(), 0.0);
  double running = 0.0;
  for (size_t i = rewards.size(); i-- > 0;) {
    running = rewards[i] + gamma * running;
    to_go[i] = running;
  }
  return to_go;
}

double RunningBaseline::Advantage(const std::string& key, double episode_return) {
  const auto [it, first] = mean_.try_emplace(key, episode_return);
  const double advantage = episode_return - it->second;
  if (!first) it->second = decay_ * it->second + (1.0 - decay_) * episode_return;
  return advantage;
}

double RunningBaseline::Baseline(const std::string& key) const {
  const auto it = mean_.find(key);
  return it == mean_.end() ? 0.0 : it->second;
}

}  // namespace rock::rl
