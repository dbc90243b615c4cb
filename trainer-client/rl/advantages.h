// Advantages for policy-gradient updates, computed from what a trajectory returned.
//   GRPO (DeepSeekMath, arXiv 2402.03300): the episodes of one group play the same task and seed,
//     so the group's mean return is the baseline and its spread the scale; no critic.
//   PPO without a critic: a running-mean baseline per key (the task type), so an easy task
//     type's returns do not look like progress on a hard one.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

namespace rock::rl {

// (r_i - mean(r)) / (std(r) + eps), with the population std; all zeros when every return is
// equal (a group that all failed or all won says nothing about which actions were better).
// scale_by_std = false leaves (r_i - mean(r)) unscaled (Dr. GRPO, arXiv 2503.20783).
std::vector<double> GroupAdvantages(std::span<const double> returns, bool scale_by_std = true,
                                    double eps = 1e-6);

// Rewards-to-go of one episode: G_t = r_t + gamma * G_{t+1}, t = 0..T-1.
std::vector<double> RewardsToGo(std::span<const double> rewards, double gamma);

// Baselines that follow the mean return of each key with an exponential moving average.
class RunningBaseline {
 public:
  explicit RunningBaseline(double decay = 0.9) : decay_(decay) {}
  // The baseline of `key` before this return, then folds the return in. The first return of
  // a key is its own baseline (advantage 0): nothing is known yet about that key.
  double Advantage(const std::string& key, double episode_return);
  double Baseline(const std::string& key) const;

 private:
  double decay_;
  std::map<std::string, double> mean_;
};

}  // namespace rock::rl
