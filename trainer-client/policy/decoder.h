// Incremental decoding with a KV cache of `slots` independent sequences. One Step runs any mix
// of entries: a whole prompt for a newly filled slot and one token for each slot that is
// generating, so sequences of different lengths decode together (continuous batching).
// The model must outlive the decoder. Not thread-safe.
#pragma once

#include <span>
#include <vector>

#include "common/status.h"
#include "trainer-client/policy/model.h"

namespace rock::policy {

struct DecodeEntry {
  int slot;   // which cached sequence
  int pos;    // the token's position in it; the slot's cache must hold 0..pos-1
  int token;
  // Whether Step returns the log-probs after this entry. A prompt needs them only after its
  // last token, and the output head is the costliest part of a small model's step.
  bool logits = true;
};

class Decoder {
 public:
  // A cache of slots x max_seq positions per layer (max_seq <= the model's max_seq).
  static StatusOr<std::unique_ptr<Decoder>> Create(const Model& model, int slots, int max_seq);

  int slots() const { return slots_; }
  int max_seq() const { return max_seq_; }

  // Runs the entries through the model, writing their keys and values into the cache, and
  // returns the next-token log-probabilities (M,V) after each of the M entries with `logits`
  // set, in entry order. Entries of one slot must be consecutive positions in order; a slot
  // restarts simply by feeding position 0 again.
  StatusOr<std::vector<float>> Step(std::span<const DecodeEntry> entries);

  // Copies positions 0..len-1 of slot `from` into slot `to` in every layer's K and V cache, so
  // `to` continues from the same prefix without recomputing it (e.g. a prompt shared by many
  // continuations). Positions from len on in `to` are left as they were; from != to.
  Status CopyPrefix(int from, int to, int len);

 private:
  Decoder(const Model& model, int slots, int max_seq);
  void EnsureCapacity(size_t n);

  const Model& model_;
  int slots_;
  int max_seq_;
  DeviceBuffer kcache_;  // (L, S, max_seq, NKV, hd)
  DeviceBuffer vcache_;
  size_t capacity_ = 0;  // entries the scratch below holds
  DeviceBuffer floats_;
  DeviceBuffer ints_;
};

}  // namespace rock::policy
