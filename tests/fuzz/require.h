// The fuzzers' check of a promise: a broken one is a crash, so libFuzzer keeps its input.
#pragma once

namespace rock::fuzz {

inline void Require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace rock::fuzz
