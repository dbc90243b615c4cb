// Byte-level tokenizer: token b (0..255) is the byte b, then a few specials. Nothing to download
// and every byte string round-trips, so env observations of any encoding are safe to feed in.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rock::policy {

class Tokenizer {
 public:
  static constexpr int kBos = 256;  // starts every sequence
  static constexpr int kEos = 257;  // ends a generated answer
  static constexpr int kPad = 258;  // fills batches; never a training target
  static constexpr int kSep = 259;  // separates observation from action in a turn
  static constexpr int kVocabSize = 260;

  // The bytes of text as tokens; with bos, kBos first.
  static std::vector<int> Encode(std::string_view text, bool bos = false);
  // The bytes of the byte tokens; specials are skipped, so Decode(Encode(s, true)) == s.
  static std::string Decode(std::span<const int> tokens);
  static bool IsSpecial(int token) { return token >= 256; }
};

}  // namespace rock::policy
