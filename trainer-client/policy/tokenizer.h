// Words over bytes. Token b (0..255) is the byte b, 256..259 are the specials, and from
// kFirstWord on each token is a word piece this tokenizer has met, in the order it met them,
// while the vocabulary has room. A word piece is a run of ASCII letters and digits with the one
// space before it, if any: "go to fridge 1" is "go", " to", " fridge", " 1". A whole name as one
// token is what a small policy can copy from the task line into the command it scores (it
// learns to copy ten bytes in order far more slowly), and prompts get 4-5x shorter. Text with
// no room left in the vocabulary goes byte by byte, so every string encodes and
// Decode(Encode(s)) == s. The learned words belong to the policy's weights (a word token means
// nothing without them): checkpoints keep them. Thread-safe: the actor encodes while the
// learner saves a checkpoint.
#pragma once

#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace rock::policy {

class Tokenizer {
 public:
  static constexpr int kBos = 256;  // starts every sequence
  static constexpr int kEos = 257;  // ends a generated answer
  static constexpr int kPad = 258;  // fills batches; never a training target
  static constexpr int kSep = 259;  // separates observation from action in a turn
  static constexpr int kFirstWord = 260;
  // Longer runs (hashes, paths) would spend a slot on text that rarely comes back: bytes.
  static constexpr size_t kMaxWordBytes = 24;

  // Room for vocab_size - kFirstWord words; vocab_size <= kFirstWord gives a byte tokenizer.
  explicit Tokenizer(int vocab_size = kFirstWord);

  // The tokens of text; with bos, kBos first. New word pieces take the free ids.
  std::vector<int> Encode(std::string_view text, bool bos = false);
  // The text of the byte and word tokens; specials and unassigned ids are skipped.
  std::string Decode(std::span<const int> tokens) const;

  // The learned words, by id from kFirstWord.
  std::vector<std::string> Words() const;
  // Takes a checkpoint's words in place of the learned ones. InvalidArgument, changing nothing,
  // for more words than fit, a duplicate, or one that is not a word piece.
  Status SetWords(std::vector<std::string> words);

  int vocab_size() const { return vocab_size_; }
  static bool IsSpecial(int token) { return token >= 256 && token < kFirstWord; }
  // A run of 1..kMaxWordBytes ASCII letters and digits, with or without one leading space.
  static bool IsWordPiece(std::string_view piece);

 private:
  const int vocab_size_;
  mutable std::mutex mu_;
  std::vector<std::string> words_;
  std::unordered_map<std::string, int> ids_;
};

}  // namespace rock::policy
