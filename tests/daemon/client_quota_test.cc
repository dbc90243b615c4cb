#include "daemon/client_quota.h"

#include <utility>

#include <gtest/gtest.h>

namespace rock {
namespace {

TEST(ClientQuota, EachClientHasItsOwnCapAndARefusalTakesNothing) {
  ClientQuota quota("open episodes", 3);
  ASSERT_TRUE(quota.Acquire("10.0.0.1", 2).ok());
  const Status refused = quota.Acquire("10.0.0.1", 2);
  EXPECT_EQ(refused.code(), Code::kResourceExhausted);
  EXPECT_EQ(refused.message(), "client 10.0.0.1 has 2 open episodes and asked for 2 more; the limit is 3");
  EXPECT_TRUE(quota.Acquire("10.0.0.1").ok()) << "the refused request took nothing";
  EXPECT_FALSE(quota.Acquire("10.0.0.1").ok());
  EXPECT_TRUE(quota.Acquire("10.0.0.2", 3).ok()) << "another client is not charged";
  quota.Release("10.0.0.1", 2);
  EXPECT_TRUE(quota.Acquire("10.0.0.1", 2).ok());
}

TEST(ClientQuota, ReleasingMoreThanHeldOrForAStrangerIsHarmless) {
  ClientQuota quota("open connections", 1);
  quota.Release("never-seen", 5);
  ASSERT_TRUE(quota.Acquire("a").ok());
  quota.Release("a", 7);
  EXPECT_TRUE(quota.Acquire("a").ok());
  EXPECT_FALSE(quota.Acquire("a").ok()) << "over-release did not leave credit behind";
}

TEST(ClientSlot, GivesItsUnitBackOnceWhereverItWasMoved) {
  auto quota = std::make_shared<ClientQuota>("open connections", 1);
  ASSERT_TRUE(quota->Acquire("a").ok());
  {
    ClientSlot slot(quota, "a");
    ClientSlot moved = std::move(slot);
    ClientSlot assigned;
    assigned = std::move(moved);
    EXPECT_FALSE(quota->Acquire("a").ok());
  }
  EXPECT_TRUE(quota->Acquire("a").ok());
  EXPECT_FALSE(quota->Acquire("a").ok()) << "given back exactly once";
}

}  // namespace
}  // namespace rock
