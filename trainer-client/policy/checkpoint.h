// Checkpoints: config, weights and AdamW state (m, v, step) in a little-endian binary file
// (the byte layout is in docs/policy.md and checkpoint.cc). Save writes a temporary file and
// renames it, so a crash never leaves a half-written checkpoint under the real name. Load
// refuses truncated, corrupt or foreign files with Corruption naming the file and the offset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "trainer-client/policy/adamw.h"
#include "trainer-client/policy/config.h"
#include "trainer-client/policy/model.h"

namespace rock::policy {

inline constexpr char kCheckpointMagic[8] = {'R', 'O', 'C', 'K', 'P', 'O', 'L', '\0'};
inline constexpr uint32_t kCheckpointVersion = 1;

// Host copies, laid out by TensorLayout(config).
struct Checkpoint {
  ModelConfig config;
  int64_t step = 0;
  std::vector<float> params;
  std::vector<float> m;
  std::vector<float> v;
};

Checkpoint Capture(const Model& model, const AdamW& optimizer);
// The model and optimizer take the checkpoint's state; the configs must be equal.
Status Restore(const Checkpoint& checkpoint, Model& model, AdamW& optimizer);

std::string Serialize(const Checkpoint& checkpoint);
StatusOr<Checkpoint> Parse(std::string_view bytes);
Status SaveCheckpoint(const std::string& path, const Checkpoint& checkpoint);
StatusOr<Checkpoint> LoadCheckpoint(const std::string& path);

}  // namespace rock::policy
