#include "tests/support/ready_rockd.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>

#include "tests/support/http_client.h"

namespace rock::test {

std::unique_ptr<RockdProcess> StartReady(RockdOptions options, std::chrono::milliseconds ready_timeout) {
  auto rockd = RockdProcess::Start(std::move(options));
  if (rockd == nullptr) return nullptr;
  if (!Eventually([&] { return Http(rockd->port(), "GET", "/readyz").status == 200; }, ready_timeout)) {
    ADD_FAILURE() << "the pools never reached their minimum:\n" << rockd->Log();
    return nullptr;
  }
  return rockd;
}

void PrintLogOnFailure(const RockdProcess* rockd) {
  if (rockd == nullptr || !::testing::Test::HasFailure()) return;
  const std::string log = rockd->Log();
  std::printf("rockd log (last 6000 bytes):\n%s\n", log.substr(log.size() > 6000 ? log.size() - 6000 : 0).c_str());
}

void ReadyRockdTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  rockd_ = StartReady(options_, ready_timeout_);
  ASSERT_NE(rockd_, nullptr);
}

void ReadyRockdTest::TearDown() { PrintLogOnFailure(rockd_.get()); }

}  // namespace rock::test
