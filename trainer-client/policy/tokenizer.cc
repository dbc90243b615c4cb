#include "trainer-client/policy/tokenizer.h"

#include <algorithm>

namespace rock::policy {
namespace {

bool IsWordByte(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

}  // namespace

Tokenizer::Tokenizer(int vocab_size) : vocab_size_(std::max(vocab_size, kFirstWord)) {}

bool Tokenizer::IsWordPiece(std::string_view piece) {
  if (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
  return !piece.empty() && piece.size() <= kMaxWordBytes && std::all_of(piece.begin(), piece.end(), IsWordByte);
}

std::vector<int> Tokenizer::Encode(std::string_view text, bool bos) {
  std::vector<int> out;
  out.reserve(text.size() / 3 + 2);
  if (bos) out.push_back(kBos);
  const auto bytes = [&out](std::string_view piece) {
    // Through unsigned char: a plain char is signed here and bytes >= 0x80 would go negative.
    for (char ch : piece) out.push_back(static_cast<unsigned char>(ch));
  };
  std::lock_guard lock(mu_);
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    const size_t word = i + (text[i] == ' ' ? 1 : 0);
    size_t end = word;
    while (end < text.size() && IsWordByte(text[end])) end++;
    if (end == word) {  // a byte that starts no word piece
      bytes(text.substr(i, 1));
      i++;
      continue;
    }
    i = end;
    const std::string_view piece = text.substr(start, end - start);
    if (end - word > kMaxWordBytes) {
      bytes(piece);
      continue;
    }
    auto id = ids_.find(std::string(piece));
    if (id == ids_.end()) {
      if (kFirstWord + static_cast<int>(words_.size()) >= vocab_size_) {
        bytes(piece);
        continue;
      }
      id = ids_.emplace(std::string(piece), kFirstWord + static_cast<int>(words_.size())).first;
      words_.emplace_back(piece);
    }
    out.push_back(id->second);
  }
  return out;
}

std::string Tokenizer::Decode(std::span<const int> tokens) const {
  std::string out;
  out.reserve(tokens.size() * 4);
  std::lock_guard lock(mu_);
  for (int t : tokens) {
    if (t >= 0 && t < 256) {
      out.push_back(static_cast<char>(t));
    } else if (t >= kFirstWord && t - kFirstWord < static_cast<int>(words_.size())) {
      out += words_[static_cast<size_t>(t - kFirstWord)];
    }
  }
  return out;
}

std::vector<std::string> Tokenizer::Words() const {
  std::lock_guard lock(mu_);
  return words_;
}

Status Tokenizer::SetWords(std::vector<std::string> words) {
  if (static_cast<int>(words.size()) > vocab_size_ - kFirstWord) {
    return InvalidArgument("tokenizer: " + std::to_string(words.size()) + " words, the vocabulary of " +
                           std::to_string(vocab_size_) + " has room for " + std::to_string(vocab_size_ - kFirstWord));
  }
  std::unordered_map<std::string, int> ids;
  for (size_t w = 0; w < words.size(); w++) {
    if (!IsWordPiece(words[w])) {
      return InvalidArgument("tokenizer: word " + std::to_string(w) + " ('" + words[w].substr(0, 40) +
                             "') is not a word piece");
    }
    if (!ids.emplace(words[w], kFirstWord + static_cast<int>(w)).second) {
      return InvalidArgument("tokenizer: word " + std::to_string(w) + " ('" + words[w] + "') is a duplicate");
    }
  }
  std::lock_guard lock(mu_);
  words_ = std::move(words);
  ids_ = std::move(ids);
  return Status::Ok();
}

}  // namespace rock::policy
