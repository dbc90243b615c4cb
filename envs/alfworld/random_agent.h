// The baseline: picks uniformly among the admissible commands, from a seeded generator, so a
// run is reproducible.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "envs/alfworld/rng.h"

namespace rock::alfworld {

class RandomAgent {
 public:
  explicit RandomAgent(uint64_t seed) : rng_(seed) {}

  // One of `admissible` (which must not be empty), uniformly.
  std::string_view Act(std::span<const std::string> admissible) {
    return admissible[rng_.Below(admissible.size())];
  }

 private:
  Rng rng_;
};

}  // namespace rock::alfworld
