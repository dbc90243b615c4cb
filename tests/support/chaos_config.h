// The rockd config of the chaos tests (episodes and the trainer stream with pool sandboxes
// killed and stopped at random): fast failure detection, no quarantine (sandboxes are killed
// again and again), generous failovers, and an ALFWorld pool of two warm sandboxes of 16 slots
// that may grow to four.
#pragma once

namespace rock::test {

inline constexpr const char* kChaosConfig = R"({
  "health": {"interval_ms": 100, "misses": 3},
  "restart": {"backoff_initial_ms": 10, "backoff_max_ms": 100, "crash_loop_failures": 1000},
  "episodes": {"step_timeout_ms": 3000, "max_failovers": 20},
  "pools": {"alfworld": {"min": 2, "max": 4, "slots": 16, "limits": {"memory_mb": 256}}}
})";

}  // namespace rock::test
