#include "balancer/pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rock::balancer {
namespace {

using std::chrono::milliseconds;
using ::testing::UnorderedElementsAreArray;

PoolConfig Config(uint32_t min, uint32_t max, uint32_t slots) {
  PoolConfig config;
  config.min = min;
  config.max = max;
  config.idle_timeout = milliseconds(1000);
  config.sandbox.env = "alfworld";
  config.sandbox.slots = slots;
  return config;
}

// A pool with `ready` sandboxes "sb-0", "sb-1", ... all ready.
Pool ReadyPool(PoolConfig config, int ready) {
  Pool pool("alfworld", std::move(config));
  for (int i = 0; i < ready; ++i) {
    const std::string id = "sb-" + std::to_string(i);
    pool.Add(id);
    pool.SetHealth(id, SandboxHealth::kReady);
  }
  return pool;
}

TEST(Pool, TakesTheLeastLoadedReadySandbox) {
  Pool pool = ReadyPool(Config(0, 4, 4), 3);
  std::map<std::string, int> load;
  for (int i = 0; i < 9; ++i) ++load[pool.Take("ep-" + std::to_string(i))->sandbox_id];
  EXPECT_EQ(load, (std::map<std::string, int>{{"sb-0", 3}, {"sb-1", 3}, {"sb-2", 3}}));
  const PoolView view = pool.View();
  EXPECT_EQ(view.slots_total, 12u);
  EXPECT_EQ(view.slots_busy, 9u);
}

TEST(Pool, NeverPlacesOnAStartingDownOrQuarantinedSandbox) {
  Pool pool("alfworld", Config(0, 4, 8));
  pool.Add("starting");
  pool.Add("down");
  pool.SetHealth("down", SandboxHealth::kDown);
  pool.Add("quarantined");
  pool.SetHealth("quarantined", SandboxHealth::kQuarantined);
  EXPECT_FALSE(pool.Take("ep-1").has_value());
  pool.SetHealth("down", SandboxHealth::kReady);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(pool.Take("ep-" + std::to_string(i))->sandbox_id, "down");
  EXPECT_FALSE(pool.Take("ep-full").has_value()) << "every slot of the one ready sandbox is taken";
}

TEST(Pool, SlotsAreDistinctAndAFreedSlotIsReused) {
  Pool pool = ReadyPool(Config(0, 1, 3), 1);
  const Placement a = *pool.Take("a");
  const Placement b = *pool.Take("b");
  const Placement c = *pool.Take("c");
  EXPECT_NE(a.slot, b.slot);
  EXPECT_NE(b.slot, c.slot);
  EXPECT_NE(a.slot, c.slot);
  EXPECT_FALSE(pool.Take("d").has_value());
  pool.Free(b, "b");
  const Placement d = *pool.Take("d");
  EXPECT_EQ(d.slot, b.slot);
}

TEST(Pool, FreeIgnoresAnEpisodeThatNoLongerHoldsTheSlot) {
  Pool pool = ReadyPool(Config(0, 1, 1), 1);
  const Placement a = *pool.Take("a");
  pool.Free(a, "a");
  const Placement b = *pool.Take("b");
  pool.Free(a, "a");  // a stale free must not release b's slot
  EXPECT_EQ(pool.View().slots_busy, 1u);
  pool.Free(b, "b");
  EXPECT_EQ(pool.View().slots_busy, 0u);
}

TEST(Pool, LeavingReadyReturnsTheEpisodesItHeld) {
  Pool pool = ReadyPool(Config(0, 2, 4), 2);
  std::map<std::string, std::vector<std::string>> on;
  for (const char* id : {"a", "b", "c", "d"}) on[pool.Take(id)->sandbox_id].push_back(id);
  EXPECT_THAT(pool.SetHealth("sb-0", SandboxHealth::kDown), UnorderedElementsAreArray(on["sb-0"]));
  EXPECT_TRUE(pool.SetHealth("sb-0", SandboxHealth::kReady).empty()) << "already emptied";
  EXPECT_THAT(pool.Remove("sb-1"), UnorderedElementsAreArray(on["sb-1"]));
  EXPECT_FALSE(pool.Contains("sb-1"));
  EXPECT_TRUE(pool.SetHealth("unknown", SandboxHealth::kDown).empty());
}

TEST(Pool, GrowsForWhatWaitsWithinMax) {
  Pool pool = ReadyPool(Config(1, 3, 2), 1);
  pool.Take("a");
  pool.Take("b");
  EXPECT_EQ(pool.ToCreate(0), 0u);
  EXPECT_EQ(pool.ToCreate(2), 1u) << "2 waiting need one more sandbox of 2 slots";
  EXPECT_EQ(pool.ToCreate(100), 2u) << "never past max";
  pool.Add("sb-new");  // starting: counts as coming
  EXPECT_EQ(pool.ToCreate(2), 0u);
}

TEST(Pool, KeepsItsMinimumAndReportsWhenItHasIt) {
  Pool pool("alfworld", Config(2, 4, 8));
  EXPECT_EQ(pool.ToCreate(0), 2u);
  EXPECT_FALSE(pool.AtMinimum());
  pool.Add("a");
  pool.Add("b");
  EXPECT_EQ(pool.ToCreate(0), 0u);
  EXPECT_FALSE(pool.AtMinimum()) << "starting is not ready";
  pool.SetHealth("a", SandboxHealth::kReady);
  pool.SetHealth("b", SandboxHealth::kReady);
  EXPECT_TRUE(pool.AtMinimum());
  pool.SetHealth("b", SandboxHealth::kDown);
  EXPECT_FALSE(pool.AtMinimum());
  EXPECT_EQ(pool.ToCreate(0), 0u) << "a restarting sandbox comes back by itself";
}

TEST(Pool, QuarantinedSandboxesAreReplacedButCountAgainstMax) {
  Pool pool("alfworld", Config(1, 2, 8));
  pool.Add("a");
  pool.SetHealth("a", SandboxHealth::kQuarantined);
  EXPECT_EQ(pool.ToCreate(0), 1u) << "the minimum needs a working sandbox";
  pool.Add("b");
  pool.SetHealth("b", SandboxHealth::kQuarantined);
  EXPECT_EQ(pool.ToCreate(0), 0u) << "a crash-looping env does not spawn without end";
}

TEST(Pool, RetiresOnlyIdleSandboxesAboveWhatIsNeeded) {
  Pool pool = ReadyPool(Config(1, 3, 1), 3);
  const auto later = std::chrono::steady_clock::now() + milliseconds(2000);
  const auto soon = std::chrono::steady_clock::now();
  EXPECT_FALSE(pool.ToRetire(soon, 0).has_value()) << "not idle long enough";
  const Placement busy = *pool.Take("a");
  for (int i = 0; i < 2; ++i) {
    const std::optional<std::string> idle = pool.ToRetire(later, 0);
    ASSERT_TRUE(idle.has_value());
    EXPECT_NE(*idle, busy.sandbox_id);
    pool.Remove(*idle);
  }
  EXPECT_FALSE(pool.ToRetire(later, 0).has_value()) << "the busy one is all that is left";
  pool.Add("c");
  pool.SetHealth("c", SandboxHealth::kReady);
  EXPECT_FALSE(pool.ToRetire(later, 1).has_value()) << "a waiting episode needs the idle one";
}

TEST(Pool, ANewSandboxSpecDrainsTheOldSandboxes) {
  Pool pool = ReadyPool(Config(1, 2, 2), 1);
  const Placement a = *pool.Take("a");
  PoolConfig changed = Config(1, 2, 2);
  changed.sandbox.limits.memory_bytes *= 2;
  pool.Reconfigure(changed);
  EXPECT_FALSE(pool.Take("b").has_value()) << "old sandboxes take no new episodes";
  EXPECT_EQ(pool.View().draining, 1u);
  EXPECT_EQ(pool.ToCreate(0), 1u);
  EXPECT_FALSE(pool.ToRetire(std::chrono::steady_clock::now(), 0).has_value()) << "still busy";
  pool.Free(a, "a");
  EXPECT_EQ(pool.ToRetire(std::chrono::steady_clock::now(), 0), "sb-0");
}

TEST(Pool, SameSpecKeepsTheSandboxes) {
  Pool pool = ReadyPool(Config(1, 2, 2), 1);
  pool.Reconfigure(Config(0, 8, 2));
  EXPECT_EQ(pool.View().draining, 0u);
  EXPECT_TRUE(pool.Take("a").has_value());
}

}  // namespace
}  // namespace rock::balancer
