// Checkpoints: config, weights, AdamW state (m, v, step) and the tokenizer's learned words
// (tokenizer.h: a word token means nothing without them) in a little-endian binary file
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
#include "trainer-client/policy/tokenizer.h"

namespace rock::policy {

inline constexpr char kCheckpointMagic[8] = {'R', 'O', 'C', 'K', 'P', 'O', 'L', '\0'};
inline constexpr uint32_t kCheckpointVersion = 3;  // 1 had no words, 1 and 2 no match slots; they still load

// Host copies, laid out by TensorLayout(config).
struct Checkpoint {
  ModelConfig config;
  int64_t step = 0;
  std::vector<float> params;
  std::vector<float> m;
  std::vector<float> v;
  std::vector<std::string> words;  // Tokenizer::Words(), at most config.vocab_size - kFirstWord
};

Checkpoint Capture(const Model& model, const AdamW& optimizer, const Tokenizer& tokenizer);
// The model, optimizer and tokenizer take the checkpoint's state; the configs must be equal.
Status Restore(const Checkpoint& checkpoint, Model& model, AdamW& optimizer, Tokenizer& tokenizer);

std::string Serialize(const Checkpoint& checkpoint);
StatusOr<Checkpoint> Parse(std::string_view bytes);
Status SaveCheckpoint(const std::string& path, const Checkpoint& checkpoint);
StatusOr<Checkpoint> LoadCheckpoint(const std::string& path);

}  // namespace rock::policy
