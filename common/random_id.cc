#include "common/random_id.h"

#include <cstdio>
#include <mutex>
#include <random>

namespace rock {

uint64_t RandomU64() {
  static std::mutex mutex;
  static std::mt19937_64 random{std::random_device{}()};
  std::lock_guard lock(mutex);
  return random();
}

std::string NewRandomId(std::string_view prefix) {
  char digits[16];
  std::snprintf(digits, sizeof(digits), "%012llx", static_cast<unsigned long long>(RandomU64() & 0xffffffffffffull));
  return std::string(prefix) + "-" + digits;
}

}  // namespace rock
