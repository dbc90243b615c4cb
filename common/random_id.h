// Random numbers for ids and seeds, from one process-wide generator seeded by the OS. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rock {

uint64_t RandomU64();

// "<prefix>-" and 12 hex digits (48 random bits): sandbox, episode and group ids.
std::string NewRandomId(std::string_view prefix);

}  // namespace rock
