#include "trainer-client/policy/tokenizer.h"

namespace rock::policy {

std::vector<int> Tokenizer::Encode(std::string_view text, bool bos) {
  std::vector<int> out;
  out.reserve(text.size() + (bos ? 1 : 0));
  if (bos) out.push_back(kBos);
  // Through unsigned char: a plain char is signed here and bytes >= 0x80 would go negative.
  for (char ch : text) out.push_back(static_cast<unsigned char>(ch));
  return out;
}

std::string Tokenizer::Decode(std::span<const int> tokens) {
  std::string out;
  out.reserve(tokens.size());
  for (int t : tokens) {
    if (t >= 0 && t < 256) out.push_back(static_cast<char>(t));
  }
  return out;
}

}  // namespace rock::policy
