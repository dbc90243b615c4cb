#include <gtest/gtest.h>

#include <random>
#include <string>

#include "trainer-client/policy/config.h"
#include "trainer-client/policy/tokenizer.h"

namespace rock::policy {
namespace {

TEST(Tokenizer, ByteTokenizerRoundTripsArbitraryBytes) {
  std::mt19937_64 rng(7);
  Tokenizer bytes;  // no room for words
  for (int trial = 0; trial < 50; trial++) {
    std::string text(static_cast<size_t>(rng() % 300), '\0');
    for (char& ch : text) ch = static_cast<char>(rng() & 0xff);
    const std::vector<int> tokens = bytes.Encode(text, /*bos=*/true);
    ASSERT_EQ(tokens.size(), text.size() + 1);
    EXPECT_EQ(tokens[0], Tokenizer::kBos);
    for (size_t i = 1; i < tokens.size(); i++) {
      EXPECT_GE(tokens[i], 0);
      EXPECT_LT(tokens[i], 256);
    }
    EXPECT_EQ(bytes.Decode(tokens), text);
  }
  EXPECT_TRUE(bytes.Words().empty());
}

TEST(Tokenizer, HighBytesAndNulAreTokensAndSpecialsDecodeToNothing) {
  Tokenizer tokenizer(Tokenizer::kFirstWord + 8);
  const std::string text("\0\x80\xff" "!", 4);
  EXPECT_EQ(tokenizer.Encode(text), (std::vector<int>{0, 128, 255, '!'}));
  const std::vector<int> with_specials = {Tokenizer::kBos, 'h', Tokenizer::kSep, 'i', Tokenizer::kEos,
                                          Tokenizer::kPad, Tokenizer::kFirstWord + 5};  // and an unassigned word
  EXPECT_EQ(tokenizer.Decode(with_specials), "hi");
  EXPECT_TRUE(Tokenizer::IsSpecial(Tokenizer::kPad));
  EXPECT_FALSE(Tokenizer::IsSpecial(255));
  EXPECT_FALSE(Tokenizer::IsSpecial(Tokenizer::kFirstWord));
}

TEST(Tokenizer, WordsAreOneTokenEachWithTheSpaceBeforeThem) {
  Tokenizer tokenizer(Tokenizer::kFirstWord + 64);
  const int w = Tokenizer::kFirstWord;
  // "go", " to", " fridge", " 1", then the newline byte.
  EXPECT_EQ(tokenizer.Encode("go to fridge 1\n"), (std::vector<int>{w, w + 1, w + 2, w + 3, '\n'}));
  // Known words keep their ids; the task line's " fridge" is the command's " fridge".
  EXPECT_EQ(tokenizer.Encode("task: put apple in fridge.", true),
            (std::vector<int>{Tokenizer::kBos, w + 4, ':', w + 5, w + 6, w + 7, w + 2, '.'}));
  EXPECT_EQ(tokenizer.Words(), (std::vector<std::string>{"go", " to", " fridge", " 1", "task", " put", " apple", " in"}));
  EXPECT_EQ(tokenizer.Decode(tokenizer.Encode("go to fridge 1\n")), "go to fridge 1\n");
  // A second space, and a space before punctuation, are bytes.
  EXPECT_EQ(tokenizer.Encode("to  to ."), (std::vector<int>{w + 8, ' ', w + 1, ' ', '.'}));
}

TEST(Tokenizer, EveryTextRoundTripsAndAFullVocabularyFallsBackToBytes) {
  std::mt19937_64 rng(11);
  Tokenizer tokenizer(Tokenizer::kFirstWord + 16);
  const std::string alphabet("ab 1\n.\xe9\0", 8);
  for (int trial = 0; trial < 200; trial++) {
    std::string text(static_cast<size_t>(rng() % 80), '\0');
    for (char& ch : text) ch = alphabet[rng() % alphabet.size()];
    const std::vector<int> tokens = tokenizer.Encode(text);
    for (int t : tokens) ASSERT_LT(t, tokenizer.vocab_size());
    ASSERT_EQ(tokenizer.Decode(tokens), text);
  }
  EXPECT_EQ(tokenizer.Words().size(), 16u);  // full
  const std::vector<int> unknown = tokenizer.Encode(" zebra");
  EXPECT_EQ(unknown, (std::vector<int>{' ', 'z', 'e', 'b', 'r', 'a'}));
  // So is a run too long to be a word.
  Tokenizer roomy(Tokenizer::kFirstWord + 16);
  const std::string hash(Tokenizer::kMaxWordBytes + 1, 'f');
  EXPECT_EQ(roomy.Encode(hash).size(), hash.size());
  EXPECT_TRUE(roomy.Words().empty());
}

TEST(Tokenizer, SetWordsRestoresIdsAndRefusesBadWordsChangingNothing) {
  Tokenizer first(Tokenizer::kFirstWord + 4);
  const std::vector<int> tokens = first.Encode("take apple 1");
  Tokenizer second(Tokenizer::kFirstWord + 4);
  ASSERT_TRUE(second.SetWords(first.Words()).ok());
  EXPECT_EQ(second.Encode("take apple 1"), tokens);
  EXPECT_EQ(second.Decode(tokens), "take apple 1");

  const std::pair<std::vector<std::string>, const char*> bad[] = {
      {{"a", "b", "c", "d", "e"}, "room for 4"},
      {{" apple", " apple"}, "duplicate"},
      {{"two words"}, "not a word piece"},
      {{""}, "not a word piece"},
      {{"  x"}, "not a word piece"},
      {{std::string(Tokenizer::kMaxWordBytes + 1, 'x')}, "not a word piece"},
  };
  for (const auto& [words, why] : bad) {
    const Status s = second.SetWords(words);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << why;
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  }
  EXPECT_EQ(second.Words(), first.Words());
}

TEST(ModelConfig, DefaultIsValidAndFitsTheByteTokenizer) {
  ModelConfig c;
  EXPECT_TRUE(Validate(c).ok());
  EXPECT_EQ(c.vocab_size, Tokenizer::kFirstWord);
}

TEST(ModelConfig, MalformedConfigIsRefusedNamingTheField) {
  struct Case {
    void (*mutate)(ModelConfig&);
    const char* field;
  };
  const Case cases[] = {
      {[](ModelConfig& c) { c.dim = 0; }, "dim"},
      {[](ModelConfig& c) { c.n_layers = -1; }, "n_layers"},
      {[](ModelConfig& c) { c.n_kv_heads = 3; }, "n_kv_heads"},
      {[](ModelConfig& c) { c.n_heads = 5; }, "n_heads"},
      {[](ModelConfig& c) { c.hidden_dim = 0; }, "hidden_dim"},
      {[](ModelConfig& c) { c.vocab_size = 0; }, "vocab_size"},
      {[](ModelConfig& c) { c.max_seq = 0; }, "max_seq"},
      {[](ModelConfig& c) { c.dim = 12; c.n_heads = 4; c.n_kv_heads = 4; }, "dim / n_heads"},  // head dim 3 is odd
      {[](ModelConfig& c) { c.rope_theta = 0.5f; }, "rope_theta"},
      {[](ModelConfig& c) { c.norm_eps = 0.0f; }, "norm_eps"},
  };
  for (const Case& tc : cases) {
    ModelConfig c;
    tc.mutate(c);
    const Status s = Validate(c);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << tc.field;
    EXPECT_NE(s.message().find(tc.field), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace rock::policy
