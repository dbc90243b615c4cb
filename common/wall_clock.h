// Wall-clock time as stored and sent everywhere (SQLite columns, API fields, events): Unix
// milliseconds. Durations use steady_clock instead.
#pragma once

#include <chrono>
#include <cstdint>

namespace rock {

inline int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace rock
