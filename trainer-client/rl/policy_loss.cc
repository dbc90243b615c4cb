#include "trainer-client/rl/policy_loss.h"

#include <algorithm>
#include <cmath>

namespace rock::rl {

PolicyLossTerm PolicyLoss(const ActionLogProbs& logp, double advantage, const PolicyLossConfig& config) {
  PolicyLossTerm term;
  const bool decoupled = config.correction != OffPolicyCorrection::kNone;
  const double anchor = decoupled ? logp.proximal : logp.behaviour;
  term.ratio = std::exp(logp.current - anchor);
  if (decoupled) {
    term.weight = std::exp(logp.proximal - logp.behaviour);
    if (config.correction == OffPolicyCorrection::kTruncatedIs) term.weight = std::min(term.weight, config.is_cap);
  }
  const double unclipped = term.ratio * advantage;
  const double clipped = std::clamp(term.ratio, 1.0 - config.clip_eps, 1.0 + config.clip_eps) * advantage;
  term.clipped = clipped < unclipped;
  term.loss = -term.weight * std::min(unclipped, clipped);
  // d(ratio)/d(logp.current) = ratio; the clipped branch is constant in logp.current.
  term.dloss_dlogp = term.clipped ? 0.0 : -term.weight * advantage * term.ratio;
  return term;
}

}  // namespace rock::rl
