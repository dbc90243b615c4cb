// The RL math of rock-trainer against values worked out by hand.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "trainer-client/rl/advantages.h"
#include "trainer-client/rl/policy_loss.h"
#include "trainer-client/rl/staleness.h"

namespace rock::rl {
namespace {

TEST(GroupAdvantages, NormalizesByTheGroupsMeanAndStd) {
  // mean 0.5, population std 0.5
  const std::vector<double> a = GroupAdvantages(std::vector<double>{1, 0, 0, 1}, true, 0.0);
  EXPECT_EQ(a, (std::vector<double>{1, -1, -1, 1}));
  // mean 2, std sqrt(8/3) = 1.63299
  const std::vector<double> b = GroupAdvantages(std::vector<double>{0, 2, 4}, true, 0.0);
  EXPECT_NEAR(b[0], -1.224745, 1e-6);
  EXPECT_NEAR(b[1], 0.0, 1e-12);
  EXPECT_NEAR(b[2], 1.224745, 1e-6);
}

TEST(GroupAdvantages, EqualReturnsCarryNoSignal) {
  EXPECT_EQ(GroupAdvantages(std::vector<double>{0, 0, 0}), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(GroupAdvantages(std::vector<double>{1}), (std::vector<double>{0}));
  EXPECT_TRUE(GroupAdvantages(std::vector<double>{}).empty());
}

TEST(GroupAdvantages, WithoutStdScalingSubtractsTheMeanOnly) {
  EXPECT_EQ(GroupAdvantages(std::vector<double>{2, 0, 1}, false), (std::vector<double>{1, -1, 0}));
}

TEST(GroupAdvantages, EpsKeepsATinySpreadFinite) {
  const std::vector<double> a = GroupAdvantages(std::vector<double>{1e-9, 0}, true, 1e-6);
  EXPECT_NEAR(a[0], 5e-10 / (5e-10 + 1e-6), 1e-12);
}

TEST(RewardsToGo, DiscountsLaterRewards) {
  const std::vector<double> g = RewardsToGo(std::vector<double>{0, 0, 1}, 0.9);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_NEAR(g[0], 0.81, 1e-12);
  EXPECT_NEAR(g[1], 0.9, 1e-12);
  EXPECT_NEAR(g[2], 1.0, 1e-12);
  EXPECT_EQ(RewardsToGo(std::vector<double>{1, -1, 2}, 1.0), (std::vector<double>{2, 1, 2}));
}

TEST(RunningBaseline, FollowsEachKeysMean) {
  RunningBaseline baseline(0.9);
  EXPECT_EQ(baseline.Advantage("pick", 1.0), 0.0);  // first return is its own baseline
  EXPECT_EQ(baseline.Advantage("pick", 0.0), -1.0);
  EXPECT_NEAR(baseline.Baseline("pick"), 0.9, 1e-12);
  EXPECT_NEAR(baseline.Advantage("pick", 1.0), 0.1, 1e-12);
  EXPECT_EQ(baseline.Advantage("heat", 5.0), 0.0);  // keys are independent
  EXPECT_EQ(baseline.Baseline("cool"), 0.0);
}

TEST(PolicyLoss, PlainPpoClipsAgainstTheBehaviourPolicy) {
  const PolicyLossConfig config{.clip_eps = 0.2, .correction = OffPolicyCorrection::kNone};
  // ratio 1.5, A = +1: min(1.5, 1.2) = 1.2 is the clipped branch, no gradient.
  PolicyLossTerm t = PolicyLoss({.current = std::log(1.5), .proximal = 7.0, .behaviour = 0.0}, 1.0, config);
  EXPECT_NEAR(t.ratio, 1.5, 1e-12);
  EXPECT_NEAR(t.loss, -1.2, 1e-12);
  EXPECT_TRUE(t.clipped);
  EXPECT_EQ(t.dloss_dlogp, 0.0);
  // ratio 1.5, A = -1: min(-1.5, -1.2) = -1.5 unclipped, d/dlogp = -A * ratio = 1.5.
  t = PolicyLoss({.current = std::log(1.5), .behaviour = 0.0}, -1.0, config);
  EXPECT_NEAR(t.loss, 1.5, 1e-12);
  EXPECT_FALSE(t.clipped);
  EXPECT_NEAR(t.dloss_dlogp, 1.5, 1e-12);
  // ratio 0.5, A = +2: min(1.0, 1.6) = 1.0 unclipped.
  t = PolicyLoss({.current = std::log(0.5), .behaviour = 0.0}, 2.0, config);
  EXPECT_NEAR(t.loss, -1.0, 1e-12);
  EXPECT_NEAR(t.dloss_dlogp, -1.0, 1e-12);
  EXPECT_EQ(t.weight, 1.0);
}

TEST(PolicyLoss, DecoupledClipsAgainstTheProximalPolicyAndReweights) {
  const PolicyLossConfig config{.clip_eps = 0.2, .correction = OffPolicyCorrection::kDecoupled};
  // current == proximal = log 0.5, behaviour log 0.25: ratio 1, weight 2.
  const PolicyLossTerm t =
      PolicyLoss({.current = std::log(0.5), .proximal = std::log(0.5), .behaviour = std::log(0.25)}, 1.5, config);
  EXPECT_NEAR(t.ratio, 1.0, 1e-12);
  EXPECT_NEAR(t.weight, 2.0, 1e-12);
  EXPECT_NEAR(t.loss, -3.0, 1e-12);
  EXPECT_NEAR(t.dloss_dlogp, -3.0, 1e-12);
  // A stale behaviour policy far from the proximal one does not clip the update by itself.
  const PolicyLossTerm far =
      PolicyLoss({.current = 0.0, .proximal = 0.0, .behaviour = std::log(0.1)}, 1.0, config);
  EXPECT_FALSE(far.clipped);
  EXPECT_NEAR(far.weight, 10.0, 1e-9);
}

TEST(PolicyLoss, TruncatedIsCapsTheWeight) {
  const PolicyLossConfig config{.clip_eps = 0.2, .correction = OffPolicyCorrection::kTruncatedIs, .is_cap = 1.5};
  const PolicyLossTerm t = PolicyLoss({.current = 0.0, .proximal = 0.0, .behaviour = std::log(0.25)}, -1.0, config);
  EXPECT_NEAR(t.weight, 1.5, 1e-12);
  EXPECT_NEAR(t.loss, 1.5, 1e-12);
  // Below the cap the weight is the plain ratio.
  EXPECT_NEAR(PolicyLoss({.current = 0.0, .proximal = 0.0, .behaviour = std::log(0.8)}, 1.0, config).weight, 1.25,
              1e-12);
}

TEST(PolicyLoss, GradientMatchesAFiniteDifference) {
  for (OffPolicyCorrection correction :
       {OffPolicyCorrection::kNone, OffPolicyCorrection::kDecoupled, OffPolicyCorrection::kTruncatedIs}) {
    const PolicyLossConfig config{.clip_eps = 0.2, .correction = correction, .is_cap = 1.3};
    for (double current : {-2.3, -1.9, -1.6, -1.2}) {
      for (double advantage : {-1.7, 0.4}) {
        const ActionLogProbs logp{.current = current, .proximal = -1.8, .behaviour = -1.6};
        const PolicyLossTerm term = PolicyLoss(logp, advantage, config);
        const double h = 1e-6;
        ActionLogProbs up = logp, down = logp;
        up.current += h;
        down.current -= h;
        const double fd = (PolicyLoss(up, advantage, config).loss - PolicyLoss(down, advantage, config).loss) / (2 * h);
        EXPECT_NEAR(term.dloss_dlogp, fd, 1e-6) << "current " << current << " advantage " << advantage;
      }
    }
  }
}

TEST(Staleness, AlphaBoundsTheVersionGap) {
  EXPECT_TRUE(WithinStaleness(5, 5, 0));
  EXPECT_FALSE(WithinStaleness(4, 5, 0));
  EXPECT_TRUE(WithinStaleness(3, 5, 2));
  EXPECT_FALSE(WithinStaleness(2, 5, 2));
}

TEST(Staleness, RolloutMayRunAheadByAlphaBatches) {
  // Synchronous: the 8 episodes of version 0's batch, then nothing until version 1.
  EXPECT_TRUE(MayStartEpisode(7, 0, 0, 8));
  EXPECT_FALSE(MayStartEpisode(8, 0, 0, 8));
  EXPECT_TRUE(MayStartEpisode(8, 1, 0, 8));
  // α = 2: three batches ahead of the first update.
  EXPECT_TRUE(MayStartEpisode(23, 0, 2, 8));
  EXPECT_FALSE(MayStartEpisode(24, 0, 2, 8));
}

}  // namespace
}  // namespace rock::rl
