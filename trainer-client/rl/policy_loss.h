// The clipped surrogate of PPO (arXiv 1707.06347) for one action, with the off-policy
// corrections an asynchronous trainer needs. Three policies meet here:
//   behaviour  the policy that acted (its log-prob travels with the act and the trajectory)
//   proximal   the learner's policy when this update began (recomputed by the learner)
//   current    the policy being optimised (its log-prob is `logp`, the only differentiated input)
// In synchronous training behaviour == proximal. Asynchronously they differ by up to α versions,
// and clipping against the stale behaviour policy would throttle the update for stale data; the
// decoupled objective (Hilton et al., arXiv 2110.00641) clips against the proximal policy and
// reweights by proximal / behaviour instead. Truncating that weight (truncated importance
// sampling, as in IMPALA's V-trace) bounds the variance a very unlikely behaviour action adds.
#pragma once

namespace rock::rl {

enum class OffPolicyCorrection {
  kNone,         // ratio against the behaviour policy, no weight: plain PPO-clip
  kDecoupled,    // ratio against the proximal policy, weight proximal / behaviour
  kTruncatedIs,  // as kDecoupled with the weight capped at is_cap
};

struct PolicyLossConfig {
  double clip_eps = 0.2;
  OffPolicyCorrection correction = OffPolicyCorrection::kTruncatedIs;
  double is_cap = 2.0;
};

struct ActionLogProbs {
  double current = 0.0;
  double proximal = 0.0;
  double behaviour = 0.0;
};

struct PolicyLossTerm {
  double loss = 0.0;          // -weight * min(ratio * A, clip(ratio, 1-eps, 1+eps) * A)
  double dloss_dlogp = 0.0;   // d loss / d logp.current; 0 where the clipped branch is active
  double ratio = 1.0;         // exp(current - anchor), the anchor per the correction
  double weight = 1.0;        // the importance weight (1 for kNone)
  bool clipped = false;       // the clipped branch was the minimum (no gradient)
};

PolicyLossTerm PolicyLoss(const ActionLogProbs& logp, double advantage, const PolicyLossConfig& config);

}  // namespace rock::rl
