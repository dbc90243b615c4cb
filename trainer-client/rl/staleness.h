// The asynchronous ratio α (ROLL Flash, arXiv 2510.11345; AReaL, arXiv 2505.24298): no update
// trains on actions more than α policy versions older than the policy being trained. α = 0 is
// synchronous training: every episode of a batch acts with the version the batch trains.
#pragma once

#include <cstdint>

namespace rock::rl {

// Whether data whose oldest action came from `oldest_version` may train `current_version`.
inline bool WithinStaleness(int64_t oldest_version, int64_t current_version, int64_t alpha) {
  return current_version - oldest_version <= alpha;
}

// The rollout side of the same bound: with batches of `batch_episodes` episodes, the episodes
// started so far may run ahead of training by at most α batches. An episode started past this
// gate would be stale before any update could use it.
inline bool MayStartEpisode(int64_t episodes_started, int64_t current_version, int64_t alpha,
                            int64_t batch_episodes) {
  return episodes_started < (current_version + alpha + 1) * batch_episodes;
}

}  // namespace rock::rl
