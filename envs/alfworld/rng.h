// SplitMix64: a tiny generator whose output is the same on every platform and standard library
// (std::uniform_int_distribution is not), which the generator's determinism promise needs.
#pragma once

#include <cstdint>

namespace rock::alfworld {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) for n > 0 (the modulo bias is below 2^-50 for the sizes used here).
  uint64_t Below(uint64_t n) { return Next() % n; }
  // Uniform in [lo, hi].
  int Between(int lo, int hi) {
    return lo + static_cast<int>(Below(static_cast<uint64_t>(hi - lo + 1)));
  }

 private:
  uint64_t state_;
};

// Mixes several values into one seed.
inline uint64_t MixSeed(uint64_t a, uint64_t b) {
  Rng rng(a * 0x9E3779B97F4A7C15ull ^ b);
  return rng.Next();
}

}  // namespace rock::alfworld
