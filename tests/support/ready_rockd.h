// A rockd whose pools are at their minimum before a test starts using it, and its log printed
// when the test fails; for tests whose config has pools (they need root).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include <gtest/gtest.h>

#include "tests/support/rockd_process.h"

namespace rock::test {

// Starts rockd and waits until /readyz answers 200, that is until its pools are at their
// minimum; null otherwise, with a test failure carrying rockd's log.
std::unique_ptr<RockdProcess> StartReady(RockdOptions options, std::chrono::milliseconds ready_timeout);

// Prints the tail of rockd's log (its last 6000 bytes) when the running test has failed;
// nothing when it has not, or when `rockd` is null.
void PrintLogOnFailure(const RockdProcess* rockd);

// A fixture with one ready rockd per test: SetUp skips without root (pool sandboxes use
// namespaces and cgroups) and fails when rockd does not get ready; TearDown prints its log
// when the test has failed.
class ReadyRockdTest : public ::testing::Test {
 protected:
  ReadyRockdTest(RockdOptions options, std::chrono::milliseconds ready_timeout)
      : options_(std::move(options)), ready_timeout_(ready_timeout) {}
  void SetUp() override;
  void TearDown() override;

  uint16_t port() const { return rockd_->port(); }

  std::unique_ptr<RockdProcess> rockd_;

 private:
  RockdOptions options_;
  std::chrono::milliseconds ready_timeout_;
};

}  // namespace rock::test
